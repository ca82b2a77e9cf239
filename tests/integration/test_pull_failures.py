"""A pull that fails is the student's when the registry answers that the image does not exist, or
when it names a registry on this machine that the instructor never declared; a declared registry
out of reach makes the check `error` (graded again, never a zero). Real registries on 127.0.0.1
only: one that refuses connections, and Debian's docker-registry that has no such image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, cast

import pytest

from .conftest import ASSIGNMENTS, run_grader

pytestmark = [pytest.mark.docker, pytest.mark.every_engine]
HOSTILE = str(ASSIGNMENTS / "hostile")
GOOD = Path(__file__).resolve().parents[1] / "hostile" / "cases" / "good"
#: Nothing listens on the discard port: the registry "cannot be reached".
UNREACHABLE = "127.0.0.1:9"


def _submission(root: Path, *, from_image: str | None = None, service_image: str | None = None) -> Path:
    app = root / "app"
    shutil.copytree(GOOD / "app", app)
    if from_image:
        (app / "Dockerfile").write_text(f'FROM {from_image}\nCMD ["true"]\n')
    if service_image:
        (app / "compose.yaml").write_text(
            f"services:\n  web:\n    image: {service_image}\n    ports: ['80:80']\n"
        )
    return root


def _graded(submission: Path, out: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    done = run_grader("check", str(submission), "--assignment", HOSTILE, "--out", str(out), env=env)
    assert done.returncode in (1, 2), done.stdout + done.stderr
    result: dict[str, object] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return result


@pytest.mark.parametrize("where", ["from", "service"])
def test_an_unreachable_declared_registry_is_an_error_never_a_zero(tmp_path: Path, where: str) -> None:
    image = f"{UNREACHABLE}/cours2/site:1"
    kwargs = {"from_image": image} if where == "from" else {"service_image": image}
    declared = {"GRADER_REGISTRY_HOSTS": f"{UNREACHABLE},127.0.0.1,localhost"}
    result = _graded(_submission(tmp_path / "s", **kwargs), tmp_path / "out", env=declared)
    assert result["status"] == "error", result
    (check,) = cast(list[dict[str, Any]], result["checks"])
    assert check["status"] == "error", check
    assert image in check["feedback"], check["feedback"]


@pytest.mark.parametrize("where", ["from", "service"])
def test_an_image_the_registry_does_not_have_fails_and_names_it(
    tmp_path: Path, registry: str, where: str
) -> None:
    image = f"{registry}/cours2/absente:1.0"
    kwargs = {"from_image": image} if where == "from" else {"service_image": image}
    result = _graded(_submission(tmp_path / "s", **kwargs), tmp_path / "out")
    assert result["status"] == "graded", result
    (check,) = cast(list[dict[str, Any]], result["checks"])
    assert check["status"] == "failed", check
    assert f"« {image} » n'existe pas" in check["feedback"], check["feedback"]


def test_a_local_registry_nobody_declared_is_the_students_mistake(tmp_path: Path) -> None:
    image = f"{UNREACHABLE}/cours2/site:1"
    result = _graded(_submission(tmp_path / "s", from_image=image), tmp_path / "out")
    assert result["status"] == "graded", result
    (check,) = cast(list[dict[str, Any]], result["checks"])
    assert check["status"] == "failed", check
    assert f"« {image} » ne répond pas" in check["feedback"], check["feedback"]
