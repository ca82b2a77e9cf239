"""Shared fixtures of the grader's own test suite (tests/).

Grading runs never load this file: they use their own ini file and rootdir.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator

import pytest

from harness.docker_api import DockerAPI
from harness.errors import InfrastructureError
from harness.ownership import SESSION_ENV

# Every Docker object this test session's gradings create carries grader.session=<token> (the
# graders it starts inherit the variable): leak checks look at those only, never at the runs of
# another grader sharing the engine.
os.environ.setdefault(SESSION_ENV, "tests-" + secrets.token_hex(4))
# `grader check` remembers results between runs (harness/recheck.py): never in the user's own
# cache, and each test with a cache of its own (see _own_check_cache), so that no test reuses
# what another one checked.
os.environ["GRADER_CACHE_DIR"] = tempfile.mkdtemp(prefix="grader-tests-cache-")


def _docker_available() -> str:
    """Empty when an engine answers, else why not."""
    try:
        DockerAPI(timeout=10).ping()
    except InfrastructureError as exc:
        return str(exc)
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test that restarts the daemon runs last, so that nothing else runs while it is down.
    items.sort(key=lambda item: item.get_closest_marker("restarts_daemon") is not None)
    if not any(item.get_closest_marker("docker") for item in items):
        return
    problem = _docker_available()
    if not problem:
        return
    if os.environ.get("GRADER_REQUIRE_DOCKER") == "1":
        raise pytest.UsageError(f"integration tests need Docker: {problem}")
    skip = pytest.mark.skip(reason=f"no Docker engine: {problem}")
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def docker_api() -> Iterator[DockerAPI]:
    api = DockerAPI()
    yield api
    api.close()


@pytest.fixture(autouse=True)
def _own_check_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path_factory.mktemp("check-cache")))


@pytest.fixture(autouse=True)
def _nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every integration test, nothing this session's gradings created remains on the engine."""
    yield
    if request.node.get_closest_marker("docker") is None:
        return
    api = DockerAPI()
    session = os.environ[SESSION_ENV]
    try:
        left = api.leftovers(session=session)
        if left:
            api.sweep(session=session)
            pytest.fail(f"the test left Docker objects labelled grader.run behind: {left}")
    finally:
        api.close()


# tests/assignments/ holds checks of test-only assignments: graded by the runner, never collected here.
collect_ignore_glob = ["tests/assignments/*", "tests/hostile/cases/*"]
