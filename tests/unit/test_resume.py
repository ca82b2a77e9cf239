"""A rerun reuses what is graded, regrades what changed or ended in error, and says what moved."""

from __future__ import annotations

import csv
from pathlib import Path

from harness.assignment import load_assignment
from harness.report.changes import write_csv
from harness.runner import GradeOptions, Runner

from .helpers import FAKE, FakeDocker


def _runner(**options: object) -> Runner:
    return Runner(load_assignment(FAKE), GradeOptions(**options), FakeDocker())  # type: ignore[arg-type]


def _class(tmp_path: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for name in ("ana", "ben"):
        sub = tmp_path / "class" / name
        sub.mkdir(parents=True)
        (sub / "README.md").write_text(name)
        pairs.append((sub, tmp_path / "out" / name))
    return pairs


def test_a_rerun_reuses_graded_results_and_regrades_errors(tmp_path: Path) -> None:
    runner = _runner(only=("fake.passes", "fake.fails"))
    pairs = _class(tmp_path)
    first = runner.grade_many(pairs, jobs=2)
    assert {r.status for r in first} == {"graded"}
    todo, reused, _previous = runner.plan(pairs)
    assert todo == []
    assert sorted(r.submission for r in reused) == ["ana", "ben"]

    errored = _runner(only=("fake.infra",))
    errored.grade(*pairs[0])
    todo, reused, previous = errored.plan(pairs)
    assert [p[0].name for p in todo] == ["ana", "ben"], "an error is regraded; other options are another key"
    assert previous["ana"].status == "error"


def test_a_changed_submission_is_regraded_and_regrade_forces_everything(tmp_path: Path) -> None:
    runner = _runner(only=("fake.passes", "fake.fails"))
    pairs = _class(tmp_path)
    runner.grade_many(pairs, jobs=1)
    (pairs[1][0] / "missing.txt").write_text("now it is there")
    todo, reused, previous = runner.plan(pairs)
    assert [p[0].name for p in todo] == ["ben"]
    assert [r.submission for r in reused] == ["ana"]
    regraded = runner.grade_many(todo, jobs=1)
    path = tmp_path / "changes.csv"
    assert write_csv(previous, regraded, path) == 1
    with path.open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["submission"], row["check"], row["old_status"], row["new_status"]) == (
        "ben",
        "fake.fails",
        "failed",
        "passed",
    )
    assert row["why"] == "submission changed"
    todo, reused, _previous = runner.plan(pairs, regrade=True)
    assert len(todo) == 2
    assert reused == []
