"""Helpers of the integration tests: real submissions on disk, the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / "cours2"
ASSIGNMENTS = ROOT / "tests" / "assignments"
GRADER = [sys.executable, "-P", str(ROOT / "grader.py")]


@pytest.fixture
def reference_copy(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of the reference solution under ``tmp_path/<name>``."""

    def make(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(REFERENCE, dest, symlinks=True)
        return dest

    return make


def run_grader(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [*GRADER, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


SUBMISSIONS = ROOT / "submissions"


@dataclass(frozen=True)
class GradedClass:
    out: Path
    done: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> GradedClass:
    """The sample class graded once by `grader grade` (every check), shared by the tests that read it."""
    out = tmp_path_factory.mktemp("class-out")
    done = run_grader("grade", str(SUBMISSIONS), "--out", str(out), "--jobs", "2", timeout=3000)
    return GradedClass(out=out, done=done)
