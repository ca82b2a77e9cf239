"""The student kit ships no hidden check and no solution; shards cover a class once; Moodle exports split."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from harness.assignment import find_assignment, load_assignment
from harness.batch import discover, merge, parse_shard, shard
from harness.errors import GraderError, IntakeError
from harness.intake import intake
from harness.kit import make_kit, strip_hidden
from harness.results import CheckResult, SubmissionResult

COURS2 = load_assignment(find_assignment("cours2"))


def test_the_kit_has_the_visible_checks_and_facts_and_nothing_hidden_or_solved(tmp_path: Path) -> None:
    kit = make_kit(COURS2, tmp_path)
    hidden = [c.id for c in COURS2.checks.values() if c.visibility == "hidden"]
    assert hidden, "cours2 has a hidden check to leave out"
    shipped = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    # The statement may announce a hidden check; no check file or setting carries it.
    code = "".join((kit / n).read_text(encoding="utf-8") for n in shipped if n.endswith((".py", ".yaml")))
    for check_id in hidden:
        assert check_id not in code
    assert "facts.json" in shipped
    assert "ENONCE.md" in shipped
    assert not any(name.startswith(("siteweb/", "compteur/", "etudiants/")) for name in shipped)
    assert not any(name.endswith(("Dockerfile", "compose.yaml", ".go", ".sql")) for name in shipped)
    loaded = load_assignment(kit)
    assert loaded.hidden_count == len(hidden)
    assert set(loaded.checks) == {c.id for c in COURS2.checks.values() if c.visibility == "visible"}


def test_hidden_check_functions_are_cut_with_their_decorators() -> None:
    source = (
        "import x\n\n\n@check('a.visible')\ndef test_a():\n    pass\n\n\n"
        "@other\n@check('b.hidden')\ndef test_b():\n    secret = 1\n\n\ndef helper():\n    pass\n"
    )
    text, kept, removed = strip_hidden(source, {"b.hidden"})
    assert (kept, removed) == (1, 1)
    assert "b.hidden" not in text
    assert "secret" not in text
    assert "@other" not in text
    assert "def helper" in text
    assert "a.visible" in text


def test_a_kit_folder_never_overwrites_something_else(tmp_path: Path) -> None:
    (tmp_path / COURS2.id).mkdir()
    (tmp_path / COURS2.id / "notes.txt").write_text("mine")
    with pytest.raises(GraderError):
        make_kit(COURS2, tmp_path)


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
