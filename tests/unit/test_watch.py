"""grader check --watch: what counts as a change, and the wait for the files to settle."""

from __future__ import annotations

from pathlib import Path

import pytest

import grader
from harness.watch import changes, snapshot, wait_for_change


def test_a_snapshot_sees_files_in_folders_and_leaves_git_and_scratch_out(tmp_path: Path) -> None:
    (tmp_path / "siteweb" / "files").mkdir(parents=True)
    (tmp_path / "siteweb" / "files" / "index.html").write_text("a")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / ".grader").mkdir()
    (tmp_path / ".grader" / "x").write_text("x")
    assert set(snapshot(tmp_path)) == {"siteweb/files/index.html"}
    archive = tmp_path / "remise.zip"
    archive.write_bytes(b"PK")
    assert set(snapshot(archive)) == {""}
    assert snapshot(tmp_path / "absent") == {}


def test_changes_name_the_added_removed_and_modified_files(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").write_text("1")
    before = snapshot(tmp_path)
    (tmp_path / "a").write_text("22")
    (tmp_path / "b").unlink()
    (tmp_path / "c").write_text("1")
    assert changes(before, snapshot(tmp_path)) == ["a", "b", "c"]
    assert changes(before, before) == []


def test_a_burst_of_saves_is_one_change_once_the_files_settle(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text("v0")
    before = snapshot(tmp_path)
    edits = iter(["v1", "v22", "v333"])  # an editor saving three times, one poll apart
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        edit = next(edits, None)
        if edit is not None:
            page.write_text(edit)

    after, changed = wait_for_change(tmp_path, before, poll_s=0.5, settle_s=1.0, sleep=sleep)
    assert changed == ["index.html"]
    assert page.read_text() == "v333"
    assert after == snapshot(tmp_path), "the snapshot returned is the settled one"
    assert slept == [0.5, 1.0, 1.0, 1.0], "it waited until one settle period passed with no change"


def test_watch_and_keep_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        grader.main(["check", ".", "--assignment", "cours2", "--watch", "--keep"])
    assert stopped.value.code == grader.EXIT_ERROR
    assert "--watch et --keep ne vont pas ensemble" in capsys.readouterr().err
