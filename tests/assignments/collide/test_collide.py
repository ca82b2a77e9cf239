"""Serves the submission's own page, while another grading with the same names runs."""

from __future__ import annotations

import time

from harness import check
from harness.grading import Grading


@check("collide.serves_own_site")
def test_serves_own_site(grading: Grading) -> None:
    expected = (grading.part_dir("app") / "files" / "index.html").read_bytes()
    web = grading.stack("app").up().service("web")
    time.sleep(4)  # hold the stack up, so that the other grading's stack overlaps with it
    assert web.get("/", port=80).body == expected, "served another submission's page"
