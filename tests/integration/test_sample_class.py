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

from .conftest import ROOT, run_grader

pytestmark = pytest.mark.docker
SUBMISSIONS = ROOT / "submissions"


def _statuses(out: Path, name: str) -> dict[str, str]:
    data = json.loads((out / name / "result.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in data["checks"]}


def test_the_sample_class_gets_its_documented_outcomes(tmp_path: Path) -> None:
    expected = yaml.safe_load((SUBMISSIONS / "expected.yaml").read_text(encoding="utf-8"))
    done = run_grader("grade", str(SUBMISSIONS), "--out", str(tmp_path), "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    for name, outcomes in expected.items():
        assert _statuses(tmp_path, name) == outcomes, name
    with (tmp_path / "gradebook.csv").open(encoding="utf-8") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(expected)
    assert rows["alice"]["score"] == rows["alice"]["max_score"]
    assert rows["chloe"]["score"] == "0"
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
    done = run_grader("grade", str(batch), "--out", str(tmp_path / "out"), "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(_statuses(tmp_path / "out", "zoe").values()) == {"passed"}
    assert set(_statuses(tmp_path / "out", "yann").values()) == {"passed"}
    refused = json.loads((tmp_path / "out" / "xavier" / "result.json").read_text(encoding="utf-8"))
    assert refused["status"] == "graded"
    assert all(c["status"] == "failed" and "sort de la remise" in c["feedback"] for c in refused["checks"])
