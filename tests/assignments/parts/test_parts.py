"""Checks that need no Docker and tell whether the two parts were graded at the same time: each
part's first check leaves a mark beside its grading's folder and waits for the other part's."""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness import check
from harness.grading import Grading

#: How long a part waits for the other one's mark (it never comes when parts run one after the other).
MEET_S = float(os.environ.get("PARTS_MEET_S", "5"))


def _meet(grading: Grading, mine: str, other: str) -> None:
    place = grading.workdir.parent  # the grading's own temporary folder, shared by its processes
    (place / f"{mine}.here").write_text(str(os.getpid()))
    deadline = time.monotonic() + MEET_S
    while not (place / f"{other}.here").exists():
        assert time.monotonic() < deadline, f"{other} was not being graded at the same time"
        time.sleep(0.05)


@check("front.meets_back")
def test_front_meets_back(grading: Grading) -> None:
    _meet(grading, "front", "back")


@check("front.has_page")
def test_front_has_page(grading: Grading) -> None:
    assert (grading.part_dir("front") / "index.html").is_file(), "front/index.html is missing"


@check("back.meets_front")
def test_back_meets_front(grading: Grading) -> None:
    _meet(grading, "back", "front")


@check("back.has_api")
def test_back_has_api(grading: Grading) -> None:
    assert (grading.part_dir("back") / "api.py").is_file(), "back/api.py is missing"


@check("lint.both")
def test_lint_both(grading: Grading) -> None:
    for part in ("front", "back"):
        assert not list(Path(grading.part_dir(part)).glob("*.bak")), f"{part} holds a .bak file"
