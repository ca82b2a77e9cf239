"""Shards cover a class once; merge joins them; Moodle exports split (the kit: test_kit.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from harness.assignment import find_assignment, load_assignment
from harness.batch import discover, merge, parse_shard, shard
from harness.errors import GraderError, IntakeError
from harness.intake import intake
from harness.results import CheckResult, SubmissionResult

COURS2 = load_assignment(find_assignment("cours2"))


def test_shards_are_disjoint_even_and_cover_the_class() -> None:
    sources = [Path(f"s{i:02d}") for i in range(11)]
    slices = [shard(sources, i, 3) for i in (1, 2, 3)]
    assert sorted(p for s in slices for p in s) == sorted(sources)
    assert [len(s) for s in slices] == [4, 4, 3]
    assert shard(list(reversed(sources)), 2, 3) == slices[1], "the order given does not matter"


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_bad_shard_says_what_is_expected(text: str) -> None:
    with pytest.raises(GraderError, match="I/N"):
        parse_shard(text)


def _write(out: Path, name: str) -> None:
    result = SubmissionResult(
        submission=name, assignment="cours2", checks=[CheckResult("lint.dockerfiles", "passed", 2, 2)]
    )
    result.write(out / name / "result.json")


def test_merge_joins_shards_and_refuses_a_submission_graded_twice(tmp_path: Path) -> None:
    _write(tmp_path / "s1", "ana")
    _write(tmp_path / "s2", "ben")
    results = merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "m")
    assert sorted(r.submission for r in results) == ["ana", "ben"]
    assert (tmp_path / "m" / "ben" / "result.json").is_file()
    _write(tmp_path / "s3", "ana")
    with pytest.raises(GraderError, match="ana"):
        merge([tmp_path / "s1", tmp_path / "s3"], tmp_path / "m2")


def _moodle_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_a_moodle_export_becomes_one_submission_per_student(tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    _moodle_zip(inner, {"siteweb/Dockerfile": b"FROM scratch\n"})
    export = _moodle_zip(
        tmp_path / "export.zip",
        {
            "Alice Dupont_1001_assignsubmission_file_/siteweb/Dockerfile": b"FROM debian\n",
            "Alice Dupont_1001_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
            "Bruno Roy_1002_assignsubmission_file_/remise.zip": inner.read_bytes(),
        },
    )
    classroom = tmp_path / "class"
    classroom.mkdir()
    export.rename(classroom / "export.zip")
    sources = discover(classroom, tmp_path / "out", COURS2.intake)
    assert [p.name for p in sources] == ["Alice Dupont_1001", "Bruno Roy_1002.zip"]
    assert (sources[0] / "siteweb" / "Dockerfile").read_text() == "FROM debian\n"
    assert not (sources[0] / "onlinetext.html").exists()
    assert zipfile.is_zipfile(sources[1])
    assert discover(classroom, tmp_path / "out", COURS2.intake) == sources, "a rerun finds the same sources"


def test_a_moodle_export_with_an_entry_leading_outside_refuses_that_student_only(tmp_path: Path) -> None:
    export = _moodle_zip(
        tmp_path / "export.zip",
        {"Eve_1_assignsubmission_file_/../../../escape.txt": b"x", "Eve_1_assignsubmission_file_/a": b"y"},
    )
    sources = discover(export, tmp_path / "out", COURS2.intake)
    assert [s.name for s in sources] == ["Eve_1.zip"], "Eve's own entries, kept for grading to refuse"
    with pytest.raises(IntakeError, match="chemin qui sort de la remise"):
        intake(sources[0], tmp_path / "c", COURS2.intake)
    assert not (tmp_path.parent / "escape.txt").exists()
