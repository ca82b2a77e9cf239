"""Helpers of the integration tests: real submissions on disk, the real CLI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / "cours2"
ASSIGNMENTS = ROOT / "tests" / "assignments"
GRADER = [sys.executable, "-P", str(ROOT / "grader.py")]


@pytest.fixture
def reference_copy(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of the reference solution under ``tmp_path/<name>``."""

    def make(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(REFERENCE, dest, symlinks=True)
        return dest

    return make


def run_grader(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [*GRADER, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


SUBMISSIONS = ROOT / "submissions"


def as_foreground_job() -> None:
    """``preexec_fn`` of a grader a test will Ctrl-C: SIGINT acts on it as on a terminal's
    foreground job, even when the test run itself was started in the background (a shell's
    background job ignores SIGINT, and so would every process it starts)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass(frozen=True)
class GradedClass:
    out: Path
    done: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> GradedClass:
    """The sample class graded once by `grader grade` (every check), shared by the tests that read it."""
    out = tmp_path_factory.mktemp("class-out")
    done = run_grader(
        "grade", str(SUBMISSIONS), "--assignment", "cours2", "--out", str(out), "--jobs", "2", timeout=3000
    )
    return GradedClass(out=out, done=done)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry listening on 127.0.0.1 only; yields its host:port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        if os.environ.get("GRADER_REQUIRE_DOCKER") == "1":
            pytest.fail(
                "docker-registry is missing: scripts/test.sh installs it (apt-get install docker-registry)"
            )
        pytest.skip("docker-registry is not installed")
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
