"""Fixtures of the proxy checks: the submission's ``proxy/`` Compose project, built on demand."""

from __future__ import annotations

import pytest

from harness import Grading, Stack


@pytest.fixture(scope="session")
def proxy(grading: Grading) -> Stack:
    """``proxy/``: services ``app`` (two replicas, not published) and ``proxy`` (nginx, 8080:80)."""
    return grading.stack("proxy")
