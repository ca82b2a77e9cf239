from __future__ import annotations

from pathlib import Path

import pytest

from harness.assignment import find_assignment, load_assignment
from harness.errors import SpecError


def test_the_embedded_cours2_assignment_loads() -> None:
    assignment = load_assignment(find_assignment("cours2"))
    assert assignment.id == "cours2"
    assert assignment.checks["siteweb.builds"].points > 0
    assert assignment.part("siteweb").http_ports == (80,)
    assert assignment.limits.memory_bytes >= 256 * 1024 * 1024


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "assignment.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\nchecks:\n  a.b: {points: 1, visibility: secret}\n", "visibility"),
        ("id: x\nchecks:\n  a.b: {}\n", "points"),
        ("id: x\nlimits: {build_timeout: 3}\n", "unknown keys: build_timeout"),
        ("id: x\nlimits: {cpus: many}\n", "wrong type"),
        ("id: x\nparts:\n  web: {kind: helm}\n", "kind"),
        ("- not a mapping\n", "mapping"),
        ("id: x\npolicy: {allow: [everything]}\n", "unknown rules"),
        ("id: [unclosed\n", "cannot read"),
    ],
)
def test_a_broken_assignment_is_a_spec_error_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_assignment(_write(tmp_path, text))


def test_an_unknown_assignment_says_where_it_looked() -> None:
    with pytest.raises(SpecError, match="no assignment 'nope'"):
        find_assignment("nope")


def test_an_unknown_part_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="no part named"):
        load_assignment(find_assignment("cours2")).part("nope")


def test_the_policy_is_strict_unless_the_assignment_relaxes_it(tmp_path: Path) -> None:
    assert load_assignment(find_assignment("cours2")).policy_allow == frozenset()
    relaxed = load_assignment(_write(tmp_path, "id: x\npolicy: {allow: [cap_add, external]}\n"))
    assert relaxed.policy_allow == {"cap_add", "external"}
