"""The intake cases of make_intake.py, taken in directly (no engine): each is refused with the
sentence expected_intake.yaml names, no host file is created or read into the sentence, and the
refused git checkout is never written."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from harness.assignment import load_assignment
from harness.errors import IntakeError
from harness.intake import intake, submission_name

from . import make_intake

HERE = Path(__file__).parent
EXPECTED = yaml.safe_load((HERE / "expected_intake.yaml").read_text(encoding="utf-8"))
LIMITS = load_assignment(HERE.parent / "assignments" / "hostile").intake


def _written(folder: Path) -> int:
    """Bytes of the files under ``folder`` now (files come and go while it is read)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).lstat().st_size
    return total


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("intake-cases")
    make_intake.make(root)
    return {submission_name(path): path for path in root.iterdir()}


def test_every_case_is_made_and_expected(cases: dict[str, Path]) -> None:
    assert sorted(cases) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_case_is_refused_and_nothing_outside_is_touched(
    cases: dict[str, Path], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for outside in make_intake.OUTSIDE_PATHS:
        outside.unlink(missing_ok=True)
    host_name = Path("/etc/hostname").read_text().strip()
    # Under the system's temporary folder, as in a grading, so that the links climb from the same
    # place; intake's own scratch folders (a git clone) are watched too.
    with tempfile.TemporaryDirectory(prefix="grader-intake-case-") as watched:
        (Path(watched) / "tmp").mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(Path(watched) / "tmp"))
        peak, stop = [0], threading.Event()

        def watch() -> None:  # the most ever written while the case is taken in
            while not stop.is_set():
                peak[0] = max(peak[0], _written(Path(watched)))

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with pytest.raises(IntakeError) as refused:
                intake(cases[name], Path(watched) / "copy", LIMITS, ["app"])
        finally:
            stop.set()
            watcher.join()
    sentence = str(refused.value)
    assert EXPECTED[name]["says"] in sentence
    assert len(sentence.splitlines()[0]) <= 300
    assert host_name not in sentence, "a host file's content reached the feedback"
    assert peak[0] < LIMITS.max_bytes, f"{peak[0]} bytes written for a submission over the limit"
    for outside in make_intake.OUTSIDE_PATHS:
        assert not outside.exists(), f"{outside} was created outside the copy"
