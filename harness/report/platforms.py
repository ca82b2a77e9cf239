"""Result files of the platforms the grader runs inside: Gradescope, PrairieLearn, GitHub Classroom.

Each is a plain translation of one :class:`SubmissionResult`; the schemas the tests
validate them against live in ``tests/schemas/``. Every text is inert (platforms show it as is).
"""

from __future__ import annotations

from typing import Any

from ..i18n import _
from ..results import SubmissionResult, inert


def _output(check_feedback: str, status: str) -> str:
    return inert(check_feedback).strip() or {"passed": _("Réussie."), "skipped": _("Non applicable.")}.get(
        status, ""
    )


def gradescope(result: SubmissionResult) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` (test names begin with the check id)."""
    return {
        "score": result.score,
        "execution_time": round(result.duration_s),
        "output": inert(result.message),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": check.id,
                "number": check.id,
                "score": check.score,
                "max_score": check.max_score if check.status != "skipped" else 0.0,
                "status": "passed" if check.status in ("passed", "skipped") else "failed",
                "output": _output(check.feedback, check.status),
                "visibility": "visible" if check.visibility == "visible" else "after_published",
            }
            for check in result.checks
        ],
    }


def prairielearn(result: SubmissionResult) -> dict[str, Any]:
    """PrairieLearn's external grader ``results.json``: score in [0, 1], points per test."""
    return {
        "gradable": result.status == "graded",
        "score": round(result.score / result.max_score, 6) if result.max_score else 0.0,
        "message": inert(result.message),
        "tests": [
            {
                "name": check.id,
                "description": check.id,
                "points": check.score,
                "max_points": check.max_score if check.status != "skipped" else 0.0,
                "message": next(iter(_output(check.feedback, check.status).splitlines()), ""),
                "output": inert(check.feedback),
            }
            for check in result.checks
        ],
    }


def classroom(result: SubmissionResult) -> dict[str, Any]:
    """GitHub Classroom's autograding result (what its reporter reads, base64-encoded, from a step output)."""
    status = "error" if result.status == "error" else "pass" if result.score >= result.max_score else "fail"
    return {
        "version": 1,
        "status": status,
        "max_score": result.max_score,
        "tests": [
            {
                "name": check.id,
                "status": {"passed": "pass", "skipped": "pass", "failed": "fail"}.get(check.status, "error"),
                "message": inert(check.feedback),
                "test_code": check.id,
                "filename": inert(check.file),
                "line_no": 0,
                "execution_time": f"{check.duration_s:.2f}s",
                "score": check.score,
            }
            for check in result.checks
        ],
    }
