"""docs/authoring.md names every key assignment.yaml may hold, as harness/assignment.py reads them.

The keys come from the parser's code, not from a list kept here: every string it looks up in a
mapping (``raw.get("parts")``, ``spec["points"]``, ``"id" in raw``) and every field of the
dataclasses whose defaults the YAML overrides key by key (``_override(Limits(), ...)``). A key
added to the parser without a line in the guide fails this test.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import harness.assignment as assignment_module

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "authoring.md"
PARSER = Path(assignment_module.__file__)


def _is_environment(node: ast.expr) -> bool:
    """``os.environ`` (or ``environ``): lookups there are environment variables, not YAML keys."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _looked_up_keys(tree: ast.AST) -> set[str]:
    """Strings the parser looks up in a mapping: ``m.get("k")``, ``m["k"]``, ``"k" in m``."""
    keys: set[str] = set()
    for node in ast.walk(tree):
        key: str | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            if node.args and not _is_environment(node.func.value):
                key = _literal(node.args[0])
        elif isinstance(node, ast.Subscript) and not _is_environment(node.value):
            key = _literal(node.slice)
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            key = None if any(_is_environment(c) for c in node.comparators) else _literal(node.left)
        if key:
            keys.add(key)
    return keys


def _overridden_sections(tree: ast.AST) -> list[type[Any]]:
    """The dataclasses whose instances ``_override`` fills from a YAML mapping."""
    found: list[type[Any]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_override"
            and node.args
            and isinstance(node.args[0], ast.Call)
            and isinstance(node.args[0].func, ast.Name)
        ):
            found.append(getattr(assignment_module, node.args[0].func.id))
    return found


TREE = ast.parse(PARSER.read_text(encoding="utf-8"))
SECTIONS = _overridden_sections(TREE)
SECTION_FIELDS = {f.name: f for section in SECTIONS for f in dataclasses.fields(section)}
KEYS = _looked_up_keys(TREE) | set(SECTION_FIELDS)


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _row(key: str) -> list[str] | None:
    """The cells of the guide's table row whose first cell is `key`."""
    for line in _guide().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells[0] == f"`{key}`":
            return cells
    return None


def test_the_keys_are_read_from_the_parser() -> None:
    assert len(SECTIONS) >= 2, "limits and intake are read through _override"
    looked_up = _looked_up_keys(TREE)
    assert len(looked_up) >= 10, sorted(looked_up)
    assert not any(key.startswith("GRADER_") for key in KEYS), "environment variables are not YAML keys"


def test_every_key_of_assignment_yaml_has_a_row_in_the_guide() -> None:
    missing = sorted(key for key in KEYS if _row(key) is None)
    assert not missing, f"docs/authoring.md has no table row for these assignment.yaml keys: {missing}"


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_the_guide_gives_each_limit_its_default_from_the_code() -> None:
    wrong = {}
    for name, spec in SECTION_FIELDS.items():
        row = _row(name)
        assert row is not None, name
        assert len(row) >= 3, name
        factory = cast(Callable[[], object], spec.default_factory)
        default = spec.default if spec.default is not dataclasses.MISSING else factory()
        if row[1].strip("`") != _shown(default):
            wrong[name] = (row[1], _shown(default))
    assert not wrong, f"defaults in docs/authoring.md differ from harness/assignment.py: {wrong}"


def test_the_api_section_is_marked_for_its_owner() -> None:
    guide = _guide()
    assert re.search(r"<!-- api -->.+<!-- /api -->", guide, re.DOTALL), "the API section keeps its markers"
