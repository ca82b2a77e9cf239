"""A check that never ends: the runner's time limit stops it, and its fixture's teardown must run
(it stands for the stacks a real check would take down)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import check


@pytest.fixture
def stack() -> Iterator[None]:
    yield
    Path(os.environ["HANG_TORN_DOWN"]).write_text("torn down")


@check("hang.forever")
def test_forever(stack: None) -> None:
    while True:
        time.sleep(0.1)
