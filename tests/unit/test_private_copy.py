"""What checks read and write in the submission's private copy is proven inside it, links resolved,
before each read and write: a link planted in the copy never makes the grader touch a host file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.assignment import load_assignment
from harness.errors import SubmissionError
from harness.grading import Grading

FAKE = Path(__file__).resolve().parents[1] / "assignments" / "fake"


@pytest.fixture
def grading(tmp_path: Path) -> Grading:
    submission = tmp_path / "copy" / "submission"
    (submission / "part").mkdir(parents=True)
    (submission / "part" / "main.go").write_text("package main\n")
    return Grading(
        submission=submission,
        name="s",
        assignment=load_assignment(FAKE),
        run_id="abc",
        workdir=tmp_path / "work",
    )


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    outside = tmp_path / "host" / "passwd"
    outside.parent.mkdir()
    outside.write_text("root:x:0:0\n")
    return outside


def test_reads_and_writes_inside_the_copy_work(grading: Grading) -> None:
    grading.write_bytes("part/main.go", b"// ajout\n", append=True)
    assert grading.read_bytes(grading.submission / "part" / "main.go") == b"package main\n// ajout\n"
    scratch = grading.scratch_dir("probe")
    grading.write_bytes(scratch / "index.html", b"v1")
    assert (scratch / "index.html").read_bytes() == b"v1"


def test_a_file_replaced_by_a_link_to_the_host_is_neither_read_nor_written(
    grading: Grading, host_file: Path
) -> None:
    source = grading.submission / "part" / "main.go"
    source.unlink()
    source.symlink_to(host_file)
    with pytest.raises(SubmissionError, match="hors de la remise"):
        grading.write_bytes(source, b"// modification\n", append=True)
    with pytest.raises(SubmissionError, match="hors de la remise"):
        grading.read_bytes(source)
    assert host_file.read_text() == "root:x:0:0\n"


def test_a_planted_scratch_folder_link_is_not_followed(grading: Grading, host_file: Path) -> None:
    (grading.submission / ".grader").symlink_to(host_file.parent, target_is_directory=True)
    with pytest.raises(SubmissionError):
        grading.scratch_dir("bind-mount")
    assert sorted(p.name for p in host_file.parent.iterdir()) == ["passwd"]


def test_a_link_to_a_folder_above_the_copy_is_not_followed(grading: Grading, host_file: Path) -> None:
    (grading.submission / "part" / "up").symlink_to("../../../host", target_is_directory=True)
    with pytest.raises(SubmissionError):
        grading.write_bytes("part/up/passwd", b"pwned")
    assert host_file.read_text() == "root:x:0:0\n"


def test_a_grader_folder_that_is_a_link_inside_the_copy_is_refused(grading: Grading) -> None:
    """A `.grader -> part` link would make a scratch copy of the part copy itself into itself."""
    (grading.submission / ".grader").symlink_to("part", target_is_directory=True)
    with pytest.raises(SubmissionError, match="réservé au correcteur"):
        grading.scratch_dir("dockerignore")
