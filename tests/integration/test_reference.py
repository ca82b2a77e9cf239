"""The reference solution scores 100 %, and its recorded facts match what it produces today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REFERENCE, run_grader

pytestmark = [pytest.mark.docker, pytest.mark.every_engine]


def test_the_reference_passes_every_check(tmp_path: Path) -> None:
    done = run_grader(
        "check", str(REFERENCE), "--assignment", "cours2", "--all", "--out", str(tmp_path), timeout=1800
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    statuses = {c["id"]: c["status"] for c in result["checks"]}
    assert statuses.pop("registry.image_pullable") == "skipped", "the reference hands in no IMAGE file"
    assert set(statuses.values()) == {"passed"}, statuses
    assert result["score"] == result["max_score"] > 100
