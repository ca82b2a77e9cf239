"""Checks that exercise every outcome without touching Docker."""

from __future__ import annotations

from harness import _, check
from harness.errors import DaemonUnavailable
from harness.grading import Grading


@check("fake.passes")
def test_passes(grading: Grading) -> None:
    assert (grading.submission / "README.md").is_file()


@check("fake.fails")
def test_fails(grading: Grading) -> None:
    assert (grading.submission / "missing.txt").is_file(), "missing.txt is missing"


@check("fake.infra")
def test_infra() -> None:
    raise DaemonUnavailable("the Docker engine does not answer.")


@check("fake.hidden")
def test_hidden() -> None:
    pass


@check("fake.translated")
def test_translated() -> None:
    raise AssertionError(_("La remise est vide."))
