"""The proxy lab (checks/proxy), graded for real with the CLI: its reference passes every check,
and each of its samples gets the outcome checks/proxy/samples/expected.yaml gives it. Without
Docker: its statement's grading table equals assignment.yaml, and its kit says nothing of the
hidden check."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.assignment import find_assignment, load_assignment

from .conftest import ROOT, run_grader

LAB = ROOT / "checks" / "proxy"
SAMPLES = LAB / "samples"


def _result(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.docker
def test_the_proxy_reference_passes_every_check_hidden_ones_too(tmp_path: Path) -> None:
    done = run_grader(
        "check", str(LAB / "reference"), "--assignment", "proxy", "--all", "--out", str(tmp_path), timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = _result(tmp_path)
    statuses = {c["id"]: c["status"] for c in result["checks"]}
    assert statuses == dict.fromkeys(load_assignment(find_assignment("proxy")).checks, "passed")
    assert result["score"] == result["max_score"] == 25


@pytest.mark.docker
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


def test_the_statement_grades_the_visible_checks_and_only_announces_the_hidden_one() -> None:
    assignment = load_assignment(find_assignment("proxy"))
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
    checks = assignment.checks.values()
    assert table == {c.id: c.points for c in checks if c.visibility == "visible"}
    (hidden,) = [c for c in checks if c.visibility == "hidden"]
    assert (
        f"une vérification cachée, faite seulement à la correction finale : {hidden.points:g} points"
        in statement
    )
    for value in ("8080", "8000", "/health", "instance", "deploy.replicas", "service_healthy", "USER"):
        assert value in statement, value


def test_the_proxy_kit_says_nothing_of_the_hidden_check(tmp_path: Path) -> None:
    done = run_grader("kit", "--assignment", "proxy", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    kit = tmp_path / "proxy"
    assert {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()} == {
        "assignment.yaml",
        "conftest.py",
        "facts.json",
        "locale/en/LC_MESSAGES/messages.mo",
        "test_proxy.py",
    }
    for path in kit.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (b"app_image_size", b"image_size", b"size_bytes", b"ratio:"):
                assert secret not in data, f"{path.name} names {secret.decode()}"
