"""Every file a batch writes into OUT, from results alone (so ``grader merge`` writes the same)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..assignment import Assignment
from ..results import SubmissionResult
from . import feedback, gradebook, junit, summary

GRADEBOOK = "gradebook.csv"
MOODLE_GRADEBOOK = "gradebook-moodle.csv"
JUNIT = "junit.xml"


def write_submission(result: SubmissionResult, assignment: Assignment, out_dir: Path) -> None:
    """``OUT/<name>/feedback.md`` (``result.json`` is written by the grading itself)."""
    (out_dir / "feedback.md").write_text(feedback.render(result, assignment.title), encoding="utf-8")


def write_class(
    results: Sequence[SubmissionResult], assignment: Assignment, out: Path, language: str
) -> None:
    """gradebook.csv, gradebook-moodle.csv, junit.xml, summary.json, the charts and report.html."""
    gradebook.write_csv(results, assignment, out / GRADEBOOK)
    gradebook.write_moodle_csv(results, out / MOODLE_GRADEBOOK)
    junit.write(results, out / JUNIT)
    summary.write(summary.summarize(results, assignment), out, language)
