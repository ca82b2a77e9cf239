"""Starts the stack, then waits far longer than the grading's time limit."""

from __future__ import annotations

import time

from harness import check
from harness.grading import Grading


@check("slow.holds")
def test_holds(grading: Grading) -> None:
    grading.stack("siteweb").up()
    time.sleep(600)
