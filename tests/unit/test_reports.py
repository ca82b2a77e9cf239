"""Every export of a result: JUnit (against an XSD), platform files (against schemas), feedback, charts."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
import xmlschema

from harness.assignment import load_assignment
from harness.report import feedback, github, junit, platforms, summary
from harness.report.batch import write_class
from harness.report.gradebook import moodle_rows
from harness.results import CheckResult, SubmissionResult

SCHEMAS = Path(__file__).parent.parent / "schemas"
FAKE = Path(__file__).parent.parent / "assignments" / "fake"


def _result(name: str = "ana", **overrides: str) -> SubmissionResult:
    statuses = {
        "fake.passes": "passed",
        "fake.fails": "failed",
        "fake.infra": "passed",
        "fake.hidden": "skipped",
    }
    statuses.update(overrides)
    points = {"fake.passes": 3, "fake.fails": 2, "fake.infra": 1, "fake.hidden": 4}
    checks = [
        CheckResult(
            id=check_id,
            status=status,  # type: ignore[arg-type]
            score=points[check_id] if status == "passed" else 0.0,
            max_score=points[check_id],
            visibility="hidden" if check_id == "fake.hidden" else "visible",
            feedback="" if status == "passed" else f"{check_id}: ```weird``` <b>&amp; 100%\nsecond line",
            duration_s=1.25,
            locations=("siteweb/Dockerfile:3",) if status == "failed" else (),
        )
        for check_id, status in statuses.items()
    ]
    return SubmissionResult(submission=name, assignment="fake", checks=checks, duration_s=12.0)


def test_junit_xml_validates_against_the_xsd_and_says_each_outcome() -> None:
    schema = xmlschema.XMLSchema(SCHEMAS / "junit.xsd")
    document = junit.render([_result("ana"), _result("ben", **{"fake.infra": "error"})])
    schema.validate(document)
    tree = cast(dict[str, Any], schema.to_dict(document))
    suites = {s["@name"]: s for s in tree["testsuite"]}
    assert set(suites) == {"ana", "ben"}
    assert suites["ben"]["@errors"] == 1
    assert suites["ana"]["@failures"] == 1
    assert suites["ana"]["@skipped"] == 1


def test_the_xsd_rejects_what_ci_systems_cannot_read() -> None:
    schema = xmlschema.XMLSchema(SCHEMAS / "junit.xsd")
    assert not schema.is_valid(
        '<testsuites><testsuite name="x" tests="1"><testcase/></testsuite></testsuites>'
    )
    assert not schema.is_valid('<testsuites><testsuite name="x" tests="-1"/></testsuites>')


@pytest.mark.parametrize("platform", ["gradescope", "prairielearn", "classroom"])
def test_platform_files_validate_against_their_schemas(platform: str) -> None:
    schema = json.loads((SCHEMAS / f"{platform}.schema.json").read_text(encoding="utf-8"))
    for result in (_result(), _result(**{"fake.infra": "error"})):
        jsonschema.validate(getattr(platforms, platform)(result), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tests": [{"score": 1}]}, schema)


def test_platform_scores_add_up_as_each_platform_expects() -> None:
    result = _result()
    gradescope = platforms.gradescope(result)
    assert gradescope["score"] == 4
    assert [t["name"] for t in gradescope["tests"]] == [c.id for c in result.checks]
    assert sum(t["max_score"] for t in gradescope["tests"]) == result.max_score == 6
    assert platforms.prairielearn(result)["score"] == pytest.approx(4 / 6)
    classroom = platforms.classroom(result)
    assert classroom["status"] == "fail"
    assert classroom["max_score"] == 6
    assert platforms.classroom(_result(**{"fake.fails": "passed"}))["status"] == "pass"


def test_feedback_markdown_quotes_the_explanations_verbatim() -> None:
    text = feedback.render(_result(), "Cours 2")
    assert "**4/6**" in text
    assert "siteweb/Dockerfile:3" in text
    fence = "````text"  # longer than the ``` inside the feedback, so it cannot close the block early
    assert fence in text
    assert "fake.fails: ```weird```" in text


def test_annotations_point_at_the_file_and_line_and_escape_the_message() -> None:
    commands = github.workflow_commands(_result(), prefix="submission")
    assert commands == [
        "::error file=submission/siteweb/Dockerfile,line=3,title=fake.fails::"
        "fake.fails: ```weird``` <b>&amp; 100%25%0Asecond line"
    ]


def test_the_moodle_worksheet_uses_participant_numbers_and_leaves_errors_out() -> None:
    rows = moodle_rows([_result("Alice Dupont_123456"), _result("ben", **{"fake.infra": "error"})])
    assert rows[0][:2] == ["Identifier", "Full name"]
    assert rows[1][:4] == ["Participant 123456", "Alice Dupont", "4", "6"]
    assert len(rows) == 2, "a grading in error is never uploaded as a grade"


def test_the_class_report_counts_scores_and_pass_rates(tmp_path: Path) -> None:
    assignment = load_assignment(FAKE)
    results = [
        _result("ana"),
        _result("ben", **{"fake.fails": "passed"}),
        _result("cy", **{"fake.infra": "error"}),
    ]
    write_class(results, assignment, tmp_path, "fr")
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert data["submissions"] == 3
    assert data["graded"] == 2
    assert data["errors"] == ["cy"]
    assert data["checks"]["fake.fails"]["pass_rate"] == 0.5
    assert sum(b["count"] for b in data["histogram"]) == 2
    assert data["histogram"][-1]["count"] == 1  # ben: 100 %
    for png in ("histogram.png", "pass-rate.png"):
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'src="histogram.png"' in html
    assert "ben" in html
    with (tmp_path / "gradebook.csv").open(encoding="utf-8") as handle:
        assert [row["submission"] for row in csv.DictReader(handle)] == ["ana", "ben", "cy"]
    assert summary.summarize(results, assignment) == data
