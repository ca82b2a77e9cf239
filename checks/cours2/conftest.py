"""Fixtures of the cours2 checks: each part of the submission as a stack."""

from __future__ import annotations

import pytest

from harness.grading import Grading
from harness.target import Stack


@pytest.fixture(scope="session")
def siteweb(grading: Grading) -> Stack:
    """The ``siteweb/`` image, as a one-service project named ``siteweb``."""
    return grading.stack("siteweb")
