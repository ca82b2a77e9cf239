"""Stops the grader orders wait its own short timeout, not Compose's 10 s, and a process that
ignores SIGTERM as PID 1 earns the student a hint, not a penalty."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from harness.assignment import load_assignment
from harness.grading import Grading
from harness.runner import new_run_id

from .conftest import ASSIGNMENTS

pytestmark = pytest.mark.docker
GOOD = Path(__file__).resolve().parents[1] / "hostile" / "cases" / "good"
STUBBORN = """services:
  web:
    build: .
    ports: ["80:80"]
  tetu:
    image: debian:bookworm-slim
    # PID 1 with SIGTERM ignored: only SIGKILL ends it.
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
"""


def test_a_container_that_ignores_sigterm_is_killed_after_the_short_timeout_with_one_hint(
    tmp_path: Path,
) -> None:
    submission = tmp_path / "s"
    shutil.copytree(GOOD, submission)
    (submission / "app" / "compose.yaml").write_text(STUBBORN)
    assignment = load_assignment(ASSIGNMENTS / "hostile")
    grading = Grading(
        submission=submission, name="s", assignment=assignment, run_id=new_run_id(), workdir=tmp_path / "w"
    )
    grading.current_check = "hostile.serves"
    try:
        project = grading.stack("app").up().project
        started = time.monotonic()
        project.remove_container("tetu")
        took = time.monotonic() - started
        project.up()
        started = time.monotonic()
        project.remove_container("tetu")  # known to ignore SIGTERM: killed at once this time
        again = time.monotonic() - started
        project.remove_container("web")  # nginx stops on its STOPSIGNAL: no hint for it
    finally:
        grading.close()
    assert took < assignment.limits.stop_timeout_s + 5, f"the stop took {took:.1f} s"
    assert again < assignment.limits.stop_timeout_s, f"the second stop waited again: {again:.1f} s"
    (hint,) = grading.advice["hostile.serves"]
    for words in ("« tetu »", "SIGTERM", "PID 1"):
        assert words in hint, hint
