"""The lab statement students read agrees with the assignment the grader applies."""

from __future__ import annotations

import pytest

from harness.assignment import find_assignment, load_assignment
from harness.validate import validate_statement


@pytest.mark.parametrize("name", ["cours2", "proxy"])
def test_the_grading_table_of_the_statement_matches_assignment_yaml(name: str) -> None:
    """Every visible check with its points (a hidden one may be announced, not listed wrong)."""
    assignment = load_assignment(find_assignment(name))
    finding = validate_statement(assignment)
    assert finding.ok, finding


def test_the_statement_names_every_fixed_contract_value() -> None:
    statement = (load_assignment(find_assignment("cours2")).reference_dir() / "ENONCE.md").read_text(
        encoding="utf-8"
    )
    for value in (
        "/usr/share/nginx/html",
        "8080",
        "/data",
        "cours2",
        "mysql",
        "db_password",
        "256 Mio",
        "utf8mb4",
    ):
        assert value in statement, value
