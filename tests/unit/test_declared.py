"""Reusable checks declared in assignment.yaml: what is accepted, what is refused with a sentence,
and the guide's table (harness/declared.py). Running them is tested for real in
tests/integration/test_declared_checks.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.assignment import load_assignment
from harness.declared import REUSABLE, markdown_table
from harness.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]


def _lab(tmp_path: Path, checks: dict[str, Any], **extra: Any) -> Path:
    raw = {"id": "lab", "parts": {"app": {"kind": "compose", "directory": "app"}}, "checks": checks, **extra}
    (tmp_path / "assignment.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_a_declared_check_keeps_its_parameters_with_defaults(tmp_path: Path) -> None:
    lab = load_assignment(
        _lab(
            tmp_path,
            {
                "app.json": {
                    "points": 2,
                    "uses": "http_equals_reference",
                    "with": {"part": "app", "service": "web", "port": 80},
                },
                "app.size": {
                    "points": 1,
                    "uses": "image_size",
                    "with": {"part": "app", "service": "web", "ratio": 2},
                },
            },
        )
    )
    spec = lab.checks["app.json"]
    assert spec.uses == "http_equals_reference"
    assert dict(spec.params) == {"part": "app", "service": "web", "port": 80, "path": "/", "compare": "body"}
    assert lab.checks["app.size"].params["ratio"] == 2.0


@pytest.mark.parametrize(
    ("check", "says"),
    [
        ({"points": 1, "uses": "nope", "with": {"part": "app"}}, "not a reusable check"),
        (
            {"points": 1, "uses": "builds", "with": {"part": "app", "colour": "red"}},
            "unknown parameters ['colour']",
        ),
        ({"points": 1, "uses": "healthy", "with": {"part": "app"}}, "needs the parameter 'service'"),
        (
            {"points": 1, "uses": "memory_limited", "with": {"part": "app", "service": "w", "max_mb": "64"}},
            "max_mb must be a int",
        ),
        (
            {"points": 1, "uses": "memory_limited", "with": {"part": "app", "service": "w", "max_mb": True}},
            "max_mb must be a int",
        ),
        ({"points": 1, "uses": "builds", "with": {"part": "ailleurs"}}, "names the part 'ailleurs'"),
        (
            {"points": 1, "uses": "builds", "with": {"part": "app", "services": [1]}},
            "must be a list of names",
        ),
        ({"points": 1, "uses": "builds", "with": ["app"]}, "`with` must be a mapping"),
        ({"points": 1, "with": {"part": "app"}}, "has `with` but no `uses`"),
        (
            {
                "points": 1,
                "uses": "http_equals_reference",
                "with": {"part": "app", "service": "w", "port": 1, "compare": "xml"},
            },
            "compare must be one of",
        ),
        ({"points": 1, "use": "builds"}, "unknown keys: use"),
    ],
)
def test_what_the_grader_does_not_understand_is_refused_with_a_sentence(
    tmp_path: Path, check: dict[str, Any], says: str
) -> None:
    with pytest.raises(SpecError, match=re.escape(says)):
        load_assignment(_lab(tmp_path, {"app.x": check}))


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"tresholds": {"a": 1}}, "unknown keys: tresholds"),
        ({"parts": {"app": {"kind": "compose", "dir": "app"}}}, "part app has unknown keys: dir"),
        ({"policy": {"alow": ["bind_writable"]}}, "policy has unknown keys: alow"),
    ],
)
def test_unknown_keys_of_assignment_yaml_are_refused(
    tmp_path: Path, extra: dict[str, Any], says: str
) -> None:
    with pytest.raises(SpecError, match=re.escape(says)):
        load_assignment(
            _lab(tmp_path, {"app.x": {"points": 1, "uses": "builds", "with": {"part": "app"}}}, **extra)
        )


def test_the_guide_shows_every_reusable_check_as_the_code_declares_it() -> None:
    guide = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- reusable -->\n(.*?)\n<!-- /reusable -->", guide, re.S)
    assert shown is not None, "docs/authoring.md lost its <!-- reusable --> markers"
    assert shown.group(1) == markdown_table(), "regenerate the table with harness.declared.markdown_table()"
    assert all(f"`{name}`" in shown.group(1) for name in REUSABLE)
