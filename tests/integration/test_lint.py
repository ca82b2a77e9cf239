"""lint.dockerfiles hands hadolint the submission's paths, never options: a folder named like an
option (`-o/...`) must not make hadolint write on the host."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import run_grader

pytestmark = pytest.mark.docker


def test_a_folder_named_like_an_option_is_a_path_and_errors_still_count(
    reference_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    sub = reference_copy("lint-option")
    target = tmp_path / "host"
    target.mkdir()
    planted = sub / f"-o{target}"  # hadolint would read "-o<target>/Dockerfile.sh" as --output
    planted.mkdir(parents=True)
    (planted / "Dockerfile.sh").write_text("FROM debian:bookworm-slim\n")
    (sub / "extra").mkdir()
    (sub / "extra" / "Dockerfile").write_text("FROM debian:bookworm-slim\nWORKDIR relative/dir\n")
    done = run_grader(
        "check",
        str(sub),
        "--assignment",
        "cours2",
        "--only",
        "lint.dockerfiles",
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert not any(target.iterdir()), "hadolint wrote where a folder name told it to"
    (check,) = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))["checks"]
    assert check["status"] == "failed"
    assert "extra/Dockerfile:2 error DL3000" in check["feedback"]
