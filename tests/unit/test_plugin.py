"""The plugin and runner, end to end through a real pytest subprocess, on checks that need no Docker."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from harness.assignment import load_assignment
from harness.results import SubmissionResult
from harness.runner import GradeOptions, Runner

from .helpers import FAKE, FakeDocker

HANG = FAKE.parent / "hang"


@pytest.fixture
def hostile_submission(tmp_path: Path) -> Path:
    """A submission that tries to configure pytest and run code on the grader's host."""
    sub = tmp_path / "mallory"
    sub.mkdir()
    (sub / "README.md").write_text("hi")
    marker = tmp_path / "pwned"
    payload = f"open({str(marker)!r}, 'w').write('owned')\n"
    (sub / "conftest.py").write_text(payload)
    (sub / "pytest.ini").write_text("[pytest]\naddopts = -p conftest --grader-visibility all\n")
    (sub / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-x'\n")
    (sub / "harness").mkdir()
    (sub / "harness" / "__init__.py").write_text(payload)
    (sub / "pytest.py").write_text(payload)
    return sub


def _grade(sub: Path, out: Path, **options: object) -> tuple[SubmissionResult, FakeDocker]:
    docker = FakeDocker()
    runner = Runner(load_assignment(FAKE), GradeOptions(**options), docker)  # type: ignore[arg-type]
    return runner.grade(sub, out), docker


def test_every_outcome_is_recorded_with_points_and_feedback(hostile_submission: Path, tmp_path: Path) -> None:
    result, docker = _grade(hostile_submission, tmp_path / "out", visibility="all")
    by_id = {c.id: c for c in result.checks}
    assert by_id["fake.passes"].status == "passed"
    assert by_id["fake.passes"].score == 3
    assert by_id["fake.fails"].status == "failed"
    assert by_id["fake.fails"].score == 0
    assert by_id["fake.fails"].feedback == "missing.txt is missing"
    assert by_id["fake.infra"].status == "error"
    assert "does not answer" in by_id["fake.infra"].feedback
    assert by_id["fake.hidden"].status == "passed"
    assert result.status == "error", "an infrastructure error is never silently a zero"
    assert (tmp_path / "out" / "result.json").is_file()
    assert docker.swept == [result.run_id], "the runner sweeps the run's label afterwards"


def test_nothing_from_the_submission_runs_on_the_host(hostile_submission: Path, tmp_path: Path) -> None:
    result, _ = _grade(hostile_submission, tmp_path / "out", visibility="visible")
    assert not (tmp_path / "pwned").exists(), "a conftest.py, module or ini file of the submission was loaded"
    assert "fake.hidden" not in {c.id for c in result.checks}


def test_visible_mode_never_runs_hidden_checks(hostile_submission: Path, tmp_path: Path) -> None:
    result, _ = _grade(hostile_submission, tmp_path / "out", visibility="visible")
    ids = [c.id for c in result.checks]
    assert ids == ["fake.passes", "fake.fails", "fake.infra", "fake.translated"]
    assert result.max_score == 7


def test_only_runs_the_named_check(hostile_submission: Path, tmp_path: Path) -> None:
    result, _ = _grade(hostile_submission, tmp_path / "out", only=("fake.passes",))
    assert [c.id for c in result.checks] == ["fake.passes"]
    assert result.status == "graded"


def test_feedback_follows_the_language(hostile_submission: Path, tmp_path: Path) -> None:
    french, _ = _grade(hostile_submission, tmp_path / "fr", only=("fake.translated",))
    english, _ = _grade(hostile_submission, tmp_path / "en", only=("fake.translated",), language="en")
    assert french.checks[0].feedback == "La remise est vide."
    assert english.checks[0].feedback == "The submission is empty."


def test_a_refused_archive_fails_every_check_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    result, _ = _grade(bad, tmp_path / "out")
    assert result.status == "graded"
    assert {c.status for c in result.checks} == {"failed"}
    assert all("illisible" in c.feedback for c in result.checks)


def test_an_inconsistent_assignment_is_an_error_not_a_zero(tmp_path: Path, hostile_submission: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "assignment.yaml").write_text("id: broken\nchecks:\n  fake.passes: {points: 1}\n")
    (broken / "test_fake.py").write_text((FAKE / "test_fake.py").read_text())
    runner = Runner(load_assignment(broken), GradeOptions(), FakeDocker())  # type: ignore[arg-type]
    result = runner.grade(hostile_submission, tmp_path / "out")
    assert result.status == "error"
    assert "missing from assignment.yaml" in result.message


def test_each_check_is_handed_on_as_soon_as_it_is_known(hostile_submission: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    docker = FakeDocker()
    runner = Runner(load_assignment(FAKE), GradeOptions(visibility="all"), docker)  # type: ignore[arg-type]
    result = runner.grade(
        hostile_submission, tmp_path / "out", on_check=lambda c: seen.append((c.id, c.status))
    )
    assert seen == [(c.id, c.status) for c in result.checks]


def test_grader_profile_writes_a_pyinstrument_report_per_submission(
    hostile_submission: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyinstrument")
    monkeypatch.setenv("GRADER_PROFILE", str(tmp_path / "profiles"))
    result, _ = _grade(hostile_submission, tmp_path / "out", visibility="visible")
    report = (tmp_path / "profiles" / "mallory.txt").read_text()
    assert "Duration" in report
    assert "harness/plugin.py" in report, "the profile is of the grading process, where the plugin runs"
    assert {c.id: c.status for c in result.checks}["fake.passes"] == "passed", "profiling changes no outcome"
    assert not (tmp_path / "pwned").exists(), "profiling must not put the submission on sys.path"


def test_a_stopped_grading_cleans_up_even_when_its_grader_ignores_sigint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grader started as a shell's background job (or under nohup) ignores SIGINT, and its
    gradings inherit that: the runner's stop must still run their cleanup, not kill them."""
    marker = tmp_path / "torn-down"
    monkeypatch.setenv("HANG_TORN_DOWN", str(marker))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "README.md").write_text("hi")
    runner = Runner(load_assignment(HANG), GradeOptions(), FakeDocker())  # type: ignore[arg-type]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what the grading process inherits
    try:
        result = runner.grade(sub, tmp_path / "out")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [(c.id, c.status) for c in result.checks] == [("hang.forever", "error")]
    assert "3 secondes" in result.checks[0].feedback
    assert marker.read_text() == "torn down", "the grading was killed before its teardown"
