"""Moodle exports: each student's entries judged on their own, the export's directory sized before
it is read, bare repositories of the export standing alone."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.assignment import IntakeLimits
from harness.batch import discover, expand_moodle_export, is_moodle_export
from harness.errors import IntakeError
from harness.intake import intake, write_zip_part

from .helpers import GIT, directory_bomb

LIMITS = IntakeLimits(max_bytes=20 * 1024 * 1024, max_files=50)
ROOT = Path(__file__).resolve().parents[2]
ALICE, BOB, EVE = (f"{name}_assignsubmission_file_" for name in ("Alice Dupont_1", "Bruno Roy_2", "Eve Ko_3"))


def _export(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_one_student_s_refused_entry_leaves_every_other_student_graded(tmp_path: Path) -> None:
    inner = _export(tmp_path / "inner.zip", {"app/compose.yaml": b"services: {}\n"})
    export = _export(
        tmp_path / "export.zip",
        {
            f"{ALICE}/app/compose.yaml": b"services: {}\n",
            f"{ALICE}/notes.txt": bytes(2 * 1024 * 1024),  # inflates ~1000 times: a bomb by the ratio rule
            f"{BOB}/app/compose.yaml": b"services: {}\n",
            f"{EVE}/remise.zip": inner.read_bytes(),
        },
    )
    sources = expand_moodle_export(export, tmp_path / "out", LIMITS)
    assert [p.name for p in sources] == ["Alice Dupont_1.zip", "Bruno Roy_2", "Eve Ko_3.zip"]
    with pytest.raises(IntakeError, match=r"^notes.txt se décompresse plus de 200 fois"):
        intake(sources[0], tmp_path / "c1", LIMITS)
    assert (intake(sources[1], tmp_path / "c2", LIMITS) / "app" / "compose.yaml").is_file()
    assert (intake(sources[2], tmp_path / "c3", LIMITS, ["app"]) / "app" / "compose.yaml").is_file()
    assert not (tmp_path / "out" / ".raw").exists()


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_refused_student_is_refused_by_intake_with_the_sentence_of_their_own_entries(
    tmp_path: Path,
) -> None:
    """The student's zip holds their entries as stored: the same refusal, whatever it is."""
    cases = {
        "escape": {f"{ALICE}/../../escape.txt": b"x", f"{ALICE}/a.txt": b"y"},
        "twice": {f"{ALICE}/a.txt": b"1", f"{ALICE}/./a.txt": b"2"},
        "many": {f"{ALICE}/f{n}.txt": b"x" for n in range(51)},
    }
    for case, entries in cases.items():
        with pytest.raises(IntakeError) as alone:
            intake(
                _export(tmp_path / f"{case}-alone.zip", {k[len(ALICE) + 1 :]: v for k, v in entries.items()}),
                tmp_path / f"{case}-a",
                LIMITS,
            )
        export = _export(tmp_path / f"{case}.zip", {**entries, f"{BOB}/b.txt": b"b"})
        sources = expand_moodle_export(export, tmp_path / case, LIMITS)
        assert [p.name for p in sources] == ["Alice Dupont_1.zip", "Bruno Roy_2"], case
        with pytest.raises(IntakeError) as graded:
            intake(sources[0], tmp_path / f"{case}-g", LIMITS)
        assert str(graded.value) == str(alone.value), case
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_student_s_zip_keeps_each_entry_as_stored(tmp_path: Path) -> None:
    source = tmp_path / "source.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr(f"{ALICE}/stored.txt", b"plain", zipfile.ZIP_STORED)
        archive.writestr(f"{ALICE}/deflated.txt", b"z" * 5000, zipfile.ZIP_DEFLATED)
        archive.writestr(f"{ALICE}/lzma.txt", b"l" * 5000, zipfile.ZIP_LZMA)
        link = zipfile.ZipInfo(f"{ALICE}/alias")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "stored.txt")
        infos = archive.infolist()
    written = tmp_path / "part.zip"
    write_zip_part(source, [(info.filename[len(ALICE) + 1 :], info) for info in infos], written)
    with zipfile.ZipFile(written) as archive:
        assert archive.testzip() is None
        assert archive.read("deflated.txt") == b"z" * 5000
        assert archive.read("lzma.txt") == b"l" * 5000
        copied = {info.filename: info for info in archive.infolist()}
    for info in infos:
        again = copied[info.filename[len(ALICE) + 1 :]]
        assert (again.compress_type, again.compress_size, again.CRC) == (
            info.compress_type,
            info.compress_size,
            info.CRC,
        )
        assert again.external_attr == info.external_attr
    root = intake(written, tmp_path / "copy", LIMITS)
    assert (root / "alias").readlink() == Path("stored.txt")


def test_discover_grades_a_class_whose_export_holds_a_bomb(tmp_path: Path) -> None:
    classroom = tmp_path / "class"
    classroom.mkdir()
    _export(
        classroom / "export.zip",
        {f"{ALICE}/notes.txt": bytes(2 * 1024 * 1024), f"{BOB}/app/compose.yaml": b"services: {}\n"},
    )
    sources = discover(classroom, tmp_path / "out", LIMITS)
    assert [p.name for p in sources] == ["Alice Dupont_1.zip", "Bruno Roy_2"]


def test_a_moodle_folder_that_names_another_student_s_repository_is_refused(tmp_path: Path) -> None:
    work, bare = tmp_path / "work", tmp_path / "bob.git"
    (work / "app").mkdir(parents=True)
    (work / "app" / "compose.yaml").write_text("bob's work\n")
    subprocess.run([*GIT, "init", "-q", str(work)], check=True)
    subprocess.run([*GIT, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(work), "commit", "-qm", "remise"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    entries = {f"{BOB}/{p.relative_to(bare)}/": b"" for p in bare.rglob("*") if p.is_dir()}
    entries |= {f"{BOB}/{p.relative_to(bare)}": p.read_bytes() for p in bare.rglob("*") if p.is_file()}
    alice = {
        f"{ALICE}/HEAD": b"ref: refs/heads/main\n",
        f"{ALICE}/commondir": b"../Bruno Roy_2\n",
        f"{ALICE}/objects/": b"",
        f"{ALICE}/refs/": b"",
    }
    export = _export(tmp_path / "export.zip", {**alice, **entries})
    sources = expand_moodle_export(export, tmp_path / "out", LIMITS)
    assert [p.name for p in sources] == ["Alice Dupont_1", "Bruno Roy_2"]
    with pytest.raises(IntakeError, match=r"renvoie à un autre dépôt .*\(commondir\)"):
        intake(sources[0], tmp_path / "copy", LIMITS)
    assert (
        intake(sources[1], tmp_path / "bob", LIMITS) / "app" / "compose.yaml"
    ).read_text() == "bob's work\n"


_PEAK = """
import json, resource, sys
from pathlib import Path
from harness.assignment import IntakeLimits
from harness.batch import is_moodle_export
from harness.errors import IntakeError
from harness.intake import intake
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
moodle = is_moodle_export(Path(sys.argv[1]))
try:
    intake(Path(sys.argv[1]), Path(sys.argv[2]), IntakeLimits(max_bytes=1 << 30, max_files=10_000))
    refused = ""
except IntakeError as exc:
    refused = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"moodle": moodle, "refused": refused, "grown_kib": after - before}))
"""


def test_a_directory_of_hundreds_of_thousands_of_entries_costs_no_memory(tmp_path: Path) -> None:
    """Before any per-grading limit, in the grader's own process: discovery and intake look at
    the end records, never at the 400,000 entries behind them."""
    bomb = directory_bomb(tmp_path / "bomb.zip", 400_000, name=f"{ALICE}/a".encode())
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(bomb), str(tmp_path / "copy")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    measured = json.loads(done.stdout)
    assert measured["moodle"] is False
    assert "annonce 400000 entrées" in measured["refused"]
    assert measured["grown_kib"] < 40 * 1024, f"{measured['grown_kib']} KiB to look at a zip"
    assert is_moodle_export(directory_bomb(tmp_path / "few.zip", 3, name=f"{ALICE}/a".encode()))
