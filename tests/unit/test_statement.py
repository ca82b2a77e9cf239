"""The lab statement students read agrees with the assignment the grader applies."""

from __future__ import annotations

import re

from harness.assignment import find_assignment, load_assignment


def test_the_grading_table_of_the_statement_matches_assignment_yaml() -> None:
    assignment = load_assignment(find_assignment("cours2"))
    statement = (assignment.reference_dir() / "ENONCE.md").read_text(encoding="utf-8")
    table: dict[str, float] = {}
    for line in statement.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or "`" not in cells[0]:
            continue
        ids = re.findall(r"`([a-z]+\.[a-z_]+)`", cells[0])
        points = [float(p) for p in re.findall(r"\d+", cells[1])]
        assert len(ids) == len(points), line
        table.update(zip(ids, points, strict=True))
    assert table == {c.id: c.points for c in assignment.checks.values()}


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
