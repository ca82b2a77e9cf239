"""A submission's parts graded at the same time, and a self-check that reruns only what changed:
real grading processes (pytest with the grader's plugin) on checks that need no Docker."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from harness.assignment import Limits, load_assignment
from harness.console import unchanged_since
from harness.i18n import set_language
from harness.recheck import MAX_ENTRIES, CheckCache, inside
from harness.results import CheckResult, SubmissionResult
from harness.runner import GradeOptions, Runner, _InOrder, default_jobs

from .helpers import FAKE, FakeDocker

PARTS = Path(__file__).parent.parent / "assignments" / "parts"
ORDER = ["front.meets_back", "front.has_page", "back.meets_front", "back.has_api", "lint.both"]


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    sub = tmp_path / "sub"
    (sub / "front").mkdir(parents=True)
    (sub / "back").mkdir()
    (sub / "front" / "index.html").write_text("<html></html>")
    (sub / "back" / "api.py").write_text("print('api')\n")
    return sub


def _runner(**options: object) -> tuple[Runner, FakeDocker]:
    docker = FakeDocker()
    runner = Runner(load_assignment(PARTS), GradeOptions(**options), docker)  # type: ignore[arg-type]
    return runner, docker


def _outcomes(result: SubmissionResult) -> list[tuple[str, str]]:
    return [(check.id, check.status) for check in result.checks]


def test_checks_are_grouped_by_the_part_their_id_names_and_the_rest_last() -> None:
    assignment = load_assignment(PARTS)
    assert assignment.groups(assignment.selected()) == [
        ("front", ["front.meets_back", "front.has_page"]),
        ("back", ["back.meets_front", "back.has_api"]),
        ("", ["lint.both"]),
    ]
    fake = load_assignment(FAKE)  # no parts: one group
    assert [group for group, _ids in fake.groups(fake.selected())] == [""]


def test_concurrent_parts_meet_and_are_reported_in_the_assignments_order(
    submission: Path, tmp_path: Path
) -> None:
    runner, docker = _runner()
    seen: list[str] = []
    result = runner.grade(submission, tmp_path / "out", on_check=lambda check: seen.append(check.id))
    assert _outcomes(result) == [(check_id, "passed") for check_id in ORDER]
    assert seen == ORDER, "results are handed on in the assignment's order, whatever ended first"
    units = runner.run_ids[result.run_id]
    assert len(units) == 2, "front (with the checks that read every part, after its own), back"
    assert len(set(units)) == 2
    assert sorted(str(run) for run in docker.swept) == sorted(units), "each process's run is swept"
    log = (tmp_path / "out" / "grading.log").read_text(encoding="utf-8")
    assert "===== front+* (front.meets_back, front.has_page, lint.both) =====" in log
    assert "===== back (back.meets_front, back.has_api) =====" in log


def test_serial_parts_run_one_after_the_other_in_one_process(
    submission: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTS_MEET_S", "1")
    runner, docker = _runner(parts="serial")
    result = runner.grade(submission, tmp_path / "out")
    outcomes = dict(_outcomes(result))
    assert outcomes["front.meets_back"] == "failed", "in sequence, back is not graded while front is"
    assert outcomes["back.meets_front"] == "passed"  # front's mark is there by then
    assert [check.id for check in result.checks] == ORDER
    assert runner.run_ids[result.run_id] == [result.run_id]
    assert docker.swept == [result.run_id]


def test_a_group_whose_process_dies_is_an_error_and_the_others_keep_their_results(
    submission: Path, tmp_path: Path
) -> None:
    (submission / "back").rename(submission / "elsewhere")  # back's checks fail, they do not crash
    runner, _docker = _runner()
    result = runner.grade(submission, tmp_path / "out")
    outcomes = dict(_outcomes(result))
    assert outcomes["front.has_page"] == "passed"
    assert outcomes["back.has_api"] == "failed"
    assert result.status == "graded"


def test_a_self_check_reruns_only_the_changed_part_and_what_reads_every_part(
    submission: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTS_MEET_S", "1")
    cache = CheckCache(tmp_path / "cache")
    first, _ = _runner(cache=cache)
    before = first.grade(submission, tmp_path / "one")
    assert not first.reused
    assert _outcomes(before) == [(check_id, "passed") for check_id in ORDER]
    (submission / "back" / "api.py").write_text("print('api v2')\n")
    second, _ = _runner(cache=cache)
    seen: list[str] = []
    after = second.grade(submission, tmp_path / "two", on_check=lambda check: seen.append(check.id))
    assert set(second.reused) == {"front.meets_back", "front.has_page"}
    assert seen == ORDER
    assert after.checks[:2] == before.checks[:2], "front's results are the first run's"
    # front did not run again: back waited for it in vain (that is how this lab tells)
    assert dict(_outcomes(after))["back.meets_front"] == "failed"
    assert dict(_outcomes(after))["lint.both"] == "passed"
    third, _ = _runner(cache=cache)
    third.grade(submission, tmp_path / "three")
    assert set(third.reused) == set(ORDER), "nothing changed since the second run"
    fresh, _ = _runner(cache=CheckCache(tmp_path / "cache", read=False))
    fresh.grade(submission, tmp_path / "four")
    assert not fresh.reused


def test_grade_never_reuses_a_self_checks_results(submission: Path, tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "cache")
    _runner(cache=cache)[0].grade(submission, tmp_path / "one")
    grading, _ = _runner()  # what grade and ci build: no cache
    grading.grade(submission, tmp_path / "two")
    assert not grading.reused


def _check(check_id: str, status: str = "passed") -> CheckResult:
    return CheckResult(id=check_id, status=status, score=1.0 if status == "passed" else 0.0, max_score=1.0)  # type: ignore[arg-type]


def test_the_cache_keys_a_group_by_its_own_part_and_keeps_no_error(tmp_path: Path) -> None:
    assignment = load_assignment(PARTS)
    root = tmp_path / "root"
    (root / "front").mkdir(parents=True)
    (root / "back").mkdir()
    cache = CheckCache(tmp_path / "cache")
    keys = {
        group: cache.key(assignment, "a1", group, root, ["fr", "visible"]) for group in ("front", "back", "")
    }
    (root / "back" / "new.txt").write_text("x")
    after = {
        group: cache.key(assignment, "a1", group, root, ["fr", "visible"]) for group in ("front", "back", "")
    }
    assert after["front"] == keys["front"]
    assert after["back"] != keys["back"]
    assert after[""] != keys[""]
    assert cache.key(assignment, "a2", "front", root, ["fr", "visible"]) != keys["front"], "assignment"
    assert cache.key(assignment, "a1", "front", root, ["en", "visible"]) != keys["front"], "language"
    at = datetime.now().astimezone()
    assert not cache.put("parts", "k", [_check("front.has_page"), _check("front.meets_back", "error")], at)
    assert cache.get("parts", "k", ["front.has_page", "front.meets_back"]) is None
    assert cache.put("parts", "k", [_check("front.has_page")], at)
    kept = cache.get("parts", "k", ["front.has_page"])
    assert kept is not None
    assert kept.at == at
    assert kept.checks[0].id == "front.has_page"
    assert cache.get("parts", "k", ["front.has_page", "other"]) is None, "another selection of checks"
    (tmp_path / "cache" / "parts" / "k.json").write_text("{cut")
    assert cache.get("parts", "k", ["front.has_page"]) is None


def test_a_part_whose_folder_is_a_link_is_keyed_by_what_the_link_leads_to(tmp_path: Path) -> None:
    assignment = load_assignment(PARTS)
    root = tmp_path / "root"
    (root / "src" / "front").mkdir(parents=True)
    (root / "src" / "front" / "index.html").write_text("v1")
    (root / "front").symlink_to("src/front")
    cache = CheckCache(tmp_path / "cache")
    before = cache.key(assignment, "a1", "front", root, [])
    (root / "src" / "front" / "index.html").write_text("v22")
    assert cache.key(assignment, "a1", "front", root, []) != before, "an edit behind the link is an edit"


def test_the_cache_keeps_its_most_recent_entries(tmp_path: Path) -> None:
    cache = CheckCache(tmp_path / "cache")
    at = datetime.now().astimezone()
    for index in range(MAX_ENTRIES + 5):
        path = tmp_path / "cache" / "a" / f"{index:04d}.json"
        cache.put("a", f"{index:04d}", [_check("x.y")], at)
        os.utime(path, (index, index))
    left = sorted(p.stem for p in (tmp_path / "cache" / "a").glob("*.json"))
    assert len(left) == MAX_ENTRIES
    assert left[0] == f"{5:04d}", "the oldest went first"


def test_the_cache_is_never_inside_the_submission(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    assert inside(sub / ".cache", sub)
    assert inside(sub, sub)
    assert not inside(tmp_path / "cache", sub)


def test_results_are_handed_on_in_order_as_soon_as_those_before_are_known() -> None:
    out: list[str] = []
    ordered = _InOrder(["a", "b", "c"], lambda check: out.append(check.id))
    ordered.add(_check("b"))
    assert out == []
    ordered.add(_check("a"))
    assert out == ["a", "b"]
    ordered.add(_check("c"))
    assert out == ["a", "b", "c"]


def test_the_default_jobs_are_the_cores_unless_memory_holds_fewer_gradings() -> None:
    limits = Limits(grading_memory_bytes=2 * 1024**3)
    assert default_jobs(limits, cpus=2, memory=16 * 1024**3) == 2
    assert default_jobs(limits, cpus=8, memory=5 * 1024**3) == 2
    assert default_jobs(limits, cpus=4, memory=1024**3) == 1
    assert default_jobs(limits, cpus=3, memory=None) == 3


def test_a_reused_check_says_since_when() -> None:
    set_language("fr")
    now = datetime.now().astimezone().replace(hour=14, minute=2)
    assert unchanged_since(now) == "inchangé depuis la vérification de 14 h 02"
    older = now - timedelta(days=3)
    assert (
        unchanged_since(older) == f"inchangé depuis la vérification du {older.date().isoformat()} à 14 h 02"
    )
    set_language("en")
    try:
        assert unchanged_since(now) == "unchanged since the check at 14:02"
    finally:
        set_language("fr")


def test_an_unknown_only_is_still_reported_when_parts_run_at_the_same_time(
    submission: Path, tmp_path: Path
) -> None:
    runner, _docker = _runner(only=("front.has_page", "nope.check"), cache=CheckCache(tmp_path / "cache"))
    result = runner.grade(submission, tmp_path / "out")
    assert "--only names unknown checks: nope.check" in result.message
    assert result.status == "error"
    assert not (tmp_path / "cache").exists(), "nothing is kept from such a run"
