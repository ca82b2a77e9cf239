"""The main job: grading the sample class gives each student exactly the documented outcomes."""

from __future__ import annotations

import csv
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from harness.assignment import find_assignment, load_assignment

from .conftest import SUBMISSIONS, GradedClass, run_grader

pytestmark = [pytest.mark.docker, pytest.mark.every_engine]
SITEWEB = ["--only", "siteweb.builds", "--only", "siteweb.serves_site"]


def _result(out: Path, name: str) -> dict[str, object]:
    return json.loads((out / name / "result.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _statuses(out: Path, name: str) -> dict[str, str]:
    return {c["id"]: c["status"] for c in _result(out, name)["checks"]}  # type: ignore[attr-defined]


def test_the_sample_class_gets_its_documented_outcomes(graded_class: GradedClass) -> None:
    expected = yaml.safe_load((SUBMISSIONS / "expected.yaml").read_text(encoding="utf-8"))
    points = {c.id: c.points for c in load_assignment(find_assignment("cours2")).checks.values()}
    tmp_path, done = graded_class.out, graded_class.done
    assert done.returncode == 0, done.stdout + done.stderr
    with (tmp_path / "gradebook.csv").open(encoding="utf-8") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(expected)
    for name, outcomes in expected.items():
        assert _statuses(tmp_path, name) == outcomes, name
        earned = sum(points[i] for i, status in outcomes.items() if status == "passed")
        counted = sum(points[i] for i, status in outcomes.items() if status != "skipped")
        assert float(rows[name]["score"]) == earned, name
        assert float(rows[name]["max_score"]) == counted, name
        result = _result(tmp_path, name)
        for check in result["checks"]:  # type: ignore[attr-defined]
            if check["status"] == "failed":
                assert check["feedback"].strip(), f"{name} {check['id']}: a failure always explains itself"
    assert "alice" in done.stdout, "the gradebook is printed"


def test_a_batch_mixes_archive_formats_and_survives_a_refused_one(tmp_path: Path) -> None:
    alice = SUBMISSIONS / "alice"
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.make_archive(str(batch / "zoe"), "zip", alice.parent, "alice")
    with tarfile.open(batch / "yann.tar.gz", "w:gz") as archive:
        archive.add(alice, arcname=".")
    with zipfile.ZipFile(batch / "xavier.zip", "w") as archive:
        archive.writestr("siteweb/Dockerfile", "FROM debian:bookworm-slim\n")
        archive.writestr("../../../tmp/owned.txt", "x")
    done = run_grader(
        "grade", str(batch), "--assignment", "cours2", "--out", str(tmp_path / "out"), "--jobs", "2", *SITEWEB
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(_statuses(tmp_path / "out", "zoe").values()) == {"passed"}
    assert set(_statuses(tmp_path / "out", "yann").values()) == {"passed"}
    refused = _result(tmp_path / "out", "xavier")
    assert refused["status"] == "graded"
    assert all(c["status"] == "failed" and "sort de la remise" in c["feedback"] for c in refused["checks"])  # type: ignore[attr-defined]
