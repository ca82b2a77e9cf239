from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.compose_cli import ComposeCLI
from harness.errors import ComposeUnavailable


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_a_timeout_ends_the_command_and_everything_it_started(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    cli = ComposeCLI(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; echo started; wait"])
    started = time.monotonic()
    result = cli.run([], timeout=1.0)
    assert result.timed_out
    assert "started" in result.output
    assert time.monotonic() - started < 15
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a parent that does not reap it."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        return stat.read_text().split()[2] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_output_and_exit_code_are_kept() -> None:
    result = ComposeCLI(["sh", "-c", "echo out; echo err >&2; exit 3"]).run([], timeout=10)
    assert result.returncode == 3
    assert "out" in result.output
    assert "err" in result.output
    assert not result.timed_out


def test_a_missing_compose_binary_is_one_clear_error() -> None:
    with pytest.raises(ComposeUnavailable, match="install Docker Compose v2"):
        ComposeCLI(["/nonexistent/docker-compose"]).run(["version"], timeout=5)


def test_the_engine_running_out_of_address_pools_is_the_machines_fault() -> None:
    from harness.errors import EngineCapacity, InfrastructureError

    message = "Error response from daemon: could not find an available, non-overlapping IPv4 address pool"
    assert EngineCapacity.found_in(message)
    assert not EngineCapacity.found_in("failed to solve: process did not complete successfully")
    assert isinstance(EngineCapacity(), InfrastructureError), "an error outcome, never a zero"


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_stop_when_ends_the_command_once_the_answer_is_known(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    cli = ComposeCLI(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; echo one; echo two; wait; echo never"])
    seen: list[str | None] = []

    def answered(line: str | None) -> bool:
        seen.append(line)
        return line == "two"

    started = time.monotonic()
    result = cli.run([], timeout=60, stop_when=answered)
    assert result.stopped
    assert not result.timed_out
    assert result.output.splitlines() == ["one", "two"]
    assert time.monotonic() - started < 15
    time.sleep(0.2)
    assert not _alive(int(pidfile.read_text()))


def test_stop_when_that_never_answers_lets_the_command_finish() -> None:
    result = ComposeCLI(["sh", "-c", "echo a; sleep 1; echo b; exit 4"]).run(
        [], timeout=30, stop_when=lambda line: False
    )
    assert (result.returncode, result.output, result.stopped) == (4, "a\nb\n", False)
