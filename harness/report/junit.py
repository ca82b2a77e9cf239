"""junit.xml: one test suite per submission, one test case per check (via junit-xml).

Every text goes through :func:`harness.results.inert` first: junit-xml escapes markup, but a
control character would make the document invalid XML (or crash the writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from ..results import SubmissionResult, inert


def suite(result: SubmissionResult) -> TestSuite:
    cases = []
    for check in result.checks:
        feedback = inert(check.feedback)
        case = TestCase(
            name=inert(check.id),
            classname=inert(f"{result.assignment}.{result.submission}"),
            elapsed_sec=check.duration_s,
            file=inert(check.file) or None,
        )
        first_line = feedback.strip().splitlines()[0] if feedback.strip() else check.status
        if check.status == "failed":
            case.add_failure_info(message=first_line, output=feedback, failure_type="failed")
        elif check.status == "error":
            case.add_error_info(message=first_line, output=feedback, error_type="error")
        elif check.status == "skipped":
            case.add_skipped_info(message=first_line)
        cases.append(case)
    properties = {"score": f"{result.score:g}", "max_score": f"{result.max_score:g}", "status": result.status}
    return TestSuite(
        name=inert(result.submission),
        test_cases=cases,
        package=inert(result.assignment),
        properties=properties,
    )


def render(results: Sequence[SubmissionResult]) -> str:
    suites = [suite(r) for r in sorted(results, key=lambda r: r.submission)]
    return str(to_xml_report_string(suites, encoding="utf-8"))


def write(results: Sequence[SubmissionResult], path: Path) -> None:
    path.write_text(render(results), encoding="utf-8")
