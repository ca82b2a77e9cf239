"""changes.csv: after a regrade, every check whose status or score moved, and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from ..results import SubmissionResult
from .gradebook import csv_text

HEADER = ["submission", "check", "old_status", "old_score", "new_status", "new_score", "why", "feedback"]


def _why(old: SubmissionResult, new: SubmissionResult) -> str:
    if old.status == "error":
        return "previous grading ended in error"
    old_parts, new_parts = old.key.split("-"), new.key.split("-")
    reasons = [
        label
        for index, label in enumerate(
            ("submission changed", "checks or reference changed", "grader version changed")
        )
        if len(old_parts) > index and len(new_parts) > index and old_parts[index] != new_parts[index]
    ]
    return "; ".join(reasons) or "same submission, checks and grader: unstable result"


def rows(previous: Mapping[str, SubmissionResult], current: Iterable[SubmissionResult]) -> list[list[str]]:
    table = [HEADER]
    for new in sorted(current, key=lambda r: r.submission):
        old = previous.get(new.submission)
        if old is None:
            continue
        before = {c.id: c for c in old.checks}
        for check in new.checks:
            was = before.get(check.id)
            if was is not None and (was.status, was.score) == (check.status, check.score):
                continue
            table.append(
                [
                    new.submission,
                    check.id,
                    was.status if was else "",
                    f"{was.score:g}" if was else "",
                    check.status,
                    f"{check.score:g}",
                    _why(old, new),
                    check.feedback.splitlines()[0] if check.feedback else "",
                ]
            )
    return table


def write_csv(
    previous: Mapping[str, SubmissionResult], current: Iterable[SubmissionResult], path: Path
) -> int:
    """Write changes.csv; return how many checks moved."""
    table = rows(previous, current)
    path.write_text(csv_text(table), encoding="utf-8")
    return len(table) - 1
