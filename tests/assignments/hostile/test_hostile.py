"""Builds and starts app/, then GET / on service web must answer 200."""

from __future__ import annotations

from harness import check
from harness.grading import Grading


@check("hostile.serves")
def test_serves(grading: Grading) -> None:
    response = grading.stack("app").up().service("web").get("/", port=80)
    assert response.status == 200, f"GET / answered {response.status}"
