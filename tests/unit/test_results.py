from __future__ import annotations

import json
from pathlib import Path

from harness.results import CheckResult, SubmissionResult


def _result(*statuses: str) -> SubmissionResult:
    checks = [
        CheckResult(id=f"c{i}", status=s, score=2.0 if s == "passed" else 0.0, max_score=2.0)  # type: ignore[arg-type]
        for i, s in enumerate(statuses)
    ]
    return SubmissionResult(submission="alice", assignment="cours2", checks=checks)


def test_score_and_status_come_from_the_checks() -> None:
    result = _result("passed", "failed", "skipped")
    assert (result.score, result.max_score, result.status) == (2.0, 4.0, "graded"), (
        "a skipped check is not counted"
    )


def test_one_check_in_error_makes_the_submission_an_error_never_a_zero() -> None:
    assert _result("passed", "error").status == "error"
    whole = SubmissionResult(submission="a", assignment="cours2", message="boom", infrastructure_error=True)
    assert whole.status == "error"


def test_result_json_has_the_documented_shape_and_round_trips(tmp_path: Path) -> None:
    result = _result("passed", "failed")
    path = tmp_path / "out" / "result.json"
    result.write(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {"submission", "assignment", "score", "max_score", "status", "checks"} <= set(data)
    assert set(data["checks"][0]) >= {"id", "status", "score", "max_score", "visibility", "feedback"}
    assert SubmissionResult.read(path).to_dict() == data
    assert [p.name for p in path.parent.iterdir()] == ["result.json"], "no temporary file is left"


def test_a_whole_grading_error_survives_the_round_trip(tmp_path: Path) -> None:
    whole = SubmissionResult(
        submission="a", assignment="cours2", message="daemon down", infrastructure_error=True
    )
    whole.write(tmp_path / "r.json")
    again = SubmissionResult.read(tmp_path / "r.json")
    assert again.status == "error"
    assert again.message == "daemon down"
