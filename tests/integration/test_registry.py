"""registry.image_pullable against a real registry (Debian's docker-registry on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.docker_api import DockerAPI
from harness.ownership import run_labels

from .conftest import REFERENCE, run_grader

pytestmark = pytest.mark.docker
ONLY = ["--all", "--only", "registry.image_pullable"]


@pytest.fixture(scope="module")
def pushed_site(registry: str, docker_api: DockerAPI) -> str:
    """The reference's siteweb image, pushed to the registry and removed locally (so the check must pull)."""
    tag = f"{registry}/cours2/siteweb:reference"
    client = docker_api.client
    client.images.build(path=str(REFERENCE / "siteweb"), tag=tag, labels=run_labels("registry-test"), rm=True)
    for line in client.images.push(tag, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(tag, force=True)
    return tag


def _with_image(make: Callable[[str], Path], image: str | None) -> Path:
    sub = make("with-image")
    if image is not None:
        (sub / "IMAGE").write_text(image + "\n")
    return sub


def _check(out: Path) -> dict[str, str]:
    (check,) = json.loads((out / "result.json").read_text(encoding="utf-8"))["checks"]
    return check  # type: ignore[no-any-return]


def test_a_pushed_image_is_pulled_and_serves_the_site(
    reference_copy: Callable[[str], Path], pushed_site: str, tmp_path: Path, docker_api: DockerAPI
) -> None:
    sub = _with_image(reference_copy, pushed_site)
    done = run_grader("check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "out"), *ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _check(tmp_path / "out")["status"] == "passed"
    assert docker_api.image_attrs(pushed_site) is None, "the pulled image is removed afterwards"


def test_an_image_missing_from_the_registry_fails(
    reference_copy: Callable[[str], Path], registry: str, tmp_path: Path
) -> None:
    sub = _with_image(reference_copy, f"{registry}/cours2/absente:1.0")
    done = run_grader("check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "out"), *ONLY)
    assert done.returncode == 1, done.stdout + done.stderr
    check = _check(tmp_path / "out")
    assert check["status"] == "failed"
    assert "introuvable" in check["feedback"]


def test_no_image_file_or_a_registry_not_allowed_is_skipped_with_a_reason(
    reference_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    done = run_grader(
        "check", str(REFERENCE), "--assignment", "cours2", "--out", str(tmp_path / "none"), *ONLY
    )
    assert _check(tmp_path / "none")["status"] == "skipped"
    assert "IMAGE" in _check(tmp_path / "none")["feedback"]
    sub = _with_image(reference_copy, "registre.exemple:5000/etudiant/siteweb:1.0")
    done = run_grader("check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "far"), *ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _check(tmp_path / "far")["status"] == "skipped"
    assert "registre.exemple:5000" in _check(tmp_path / "far")["feedback"]
