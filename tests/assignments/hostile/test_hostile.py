"""Builds and starts app/, then GET / on service web must answer 200 (and parse, when it says JSON)."""

from __future__ import annotations

from harness import check
from harness.grading import Grading


@check("hostile.serves")
def test_serves(grading: Grading) -> None:
    response = grading.stack("app").up().service("web").get("/", port=80)
    # The body is quoted as a check quotes what it received: whatever it holds must reach the
    # feedback, the terminal and every export inert.
    assert response.status == 200, f"GET / answered {response.status}; body:\n{response.text[:300]}"
    if "json" in response.headers.get("Content-Type", "").lower():
        response.json()
