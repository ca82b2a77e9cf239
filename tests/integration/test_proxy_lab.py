"""The proxy lab (checks/proxy), graded for real with the CLI: its reference passes every check,
and each of its samples gets the outcome checks/proxy/samples/expected.yaml gives it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.assignment import find_assignment, load_assignment

from .conftest import ROOT, run_grader

pytestmark = [pytest.mark.docker]
LAB = ROOT / "checks" / "proxy"
SAMPLES = LAB / "samples"


def _result(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_proxy_reference_passes_every_check_hidden_ones_too(tmp_path: Path) -> None:
    done = run_grader(
        "check", str(LAB / "reference"), "--assignment", "proxy", "--all", "--out", str(tmp_path), timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = _result(tmp_path)
    statuses = {c["id"]: c["status"] for c in result["checks"]}
    assert statuses == dict.fromkeys(load_assignment(find_assignment("proxy")).checks, "passed")
    assert result["score"] == result["max_score"] == 25


def test_each_proxy_sample_gets_its_expected_outcome(tmp_path: Path) -> None:
    expected: dict[str, dict[str, str]] = yaml.safe_load(
        (SAMPLES / "expected.yaml").read_text(encoding="utf-8")
    )
    points = {c.id: c.points for c in load_assignment(find_assignment("proxy")).checks.values()}
    done = run_grader(
        "grade", str(SAMPLES), "--assignment", "proxy", "--out", str(tmp_path), "--jobs", "2", timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with (tmp_path / "gradebook.csv").open(encoding="utf-8") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(expected)
    assert len(expected) >= 5
    for name, outcomes in expected.items():
        result = _result(tmp_path / name)
        assert {c["id"]: c["status"] for c in result["checks"]} == outcomes, name
        assert float(rows[name]["score"]) == sum(points[i] for i, s in outcomes.items() if s == "passed"), (
            name
        )
        for check in result["checks"]:
            if check["status"] == "failed":
                assert check["feedback"].strip(), f"{name} {check['id']}: a failure always explains itself"
    every_check_fails_somewhere = {
        i for outcomes in expected.values() for i, s in outcomes.items() if s == "failed"
    }
    assert every_check_fails_somewhere == set(points), "each check has a sample that fails it"
