"""registry.image_pullable against a real registry (Debian's docker-registry on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.docker_api import DockerAPI
from harness.ownership import run_labels

from .conftest import REFERENCE, run_grader

pytestmark = pytest.mark.docker
ONLY = ["--all", "--only", "registry.image_pullable"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry listening on 127.0.0.1 only; yields its host:port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        if os.environ.get("GRADER_REQUIRE_DOCKER") == "1":
            pytest.fail(
                "docker-registry is missing: scripts/test.sh installs it (apt-get install docker-registry)"
            )
        pytest.skip("docker-registry is not installed")
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
    done = run_grader("check", str(sub), "--out", str(tmp_path / "out"), *ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _check(tmp_path / "out")["status"] == "passed"
    assert docker_api.image_attrs(pushed_site) is None, "the pulled image is removed afterwards"


def test_an_image_missing_from_the_registry_fails(
    reference_copy: Callable[[str], Path], registry: str, tmp_path: Path
) -> None:
    sub = _with_image(reference_copy, f"{registry}/cours2/absente:1.0")
    done = run_grader("check", str(sub), "--out", str(tmp_path / "out"), *ONLY)
    assert done.returncode == 1, done.stdout + done.stderr
    check = _check(tmp_path / "out")
    assert check["status"] == "failed"
    assert "introuvable" in check["feedback"]


def test_no_image_file_or_a_registry_not_allowed_is_skipped_with_a_reason(
    reference_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    done = run_grader("check", str(REFERENCE), "--out", str(tmp_path / "none"), *ONLY)
    assert _check(tmp_path / "none")["status"] == "skipped"
    assert "IMAGE" in _check(tmp_path / "none")["feedback"]
    sub = _with_image(reference_copy, "registre.exemple:5000/etudiant/siteweb:1.0")
    done = run_grader("check", str(sub), "--out", str(tmp_path / "far"), *ONLY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _check(tmp_path / "far")["status"] == "skipped"
    assert "registre.exemple:5000" in _check(tmp_path / "far")["feedback"]
