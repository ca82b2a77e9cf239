"""Who owns a run: the labels that let ``grader clean`` remove only what nobody is grading any more.

Every Docker object a grading creates carries three labels:

- ``grader.run=<id>``: the grading it belongs to (one per submission graded);
- ``grader.owner=<host>:<pid>:<start>``: the grader process that started the grading. While that
  process lives, the run is someone's grading in progress (another terminal, another CI job on
  a shared engine) and ``grader clean`` leaves it alone;
- ``grader.session=<token>`` when ``$GRADER_SESSION`` is set: a caller's own tag (the test suite
  uses it to find what its own runs left, and only that).

The start time (from ``/proc``) tells a live owner from a new process that reused its pid.
Light on purpose: no Docker SDK, no pytest.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

RUN_LABEL = "grader.run"
OWNER_LABEL = "grader.owner"
SESSION_LABEL = "grader.session"
#: Set by the runner for its grading processes: the owner is the grader, not the grading process.
OWNER_ENV = "GRADER_OWNER"
SESSION_ENV = "GRADER_SESSION"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" where /proc does not say)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    # Field 22; the command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def process_identity(pid: int | None = None) -> str:
    """``<host>:<pid>:<start>`` of ``pid`` (this process by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def current_owner() -> str:
    """The grader process that owns what this process creates."""
    return os.environ.get(OWNER_ENV) or process_identity()


def current_session() -> str:
    return os.environ.get(SESSION_ENV, "")


def run_labels(run_id: str) -> dict[str, str]:
    """The labels of every Docker object of the run ``run_id``."""
    labels = {RUN_LABEL: run_id, OWNER_LABEL: current_owner()}
    session = current_session()
    if session:
        labels[SESSION_LABEL] = session
    return labels


def owner_alive(owner: str) -> bool:
    """Whether the grader process ``owner`` still runs.

    An owner on another host cannot be looked at: it counts as alive (``grader clean --all``
    removes it). No owner at all (an object from a grader older than these labels) counts as gone.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if not owner or not pid_text.isdigit():
        return False
    if host != socket.gethostname():
        return True
    pid = int(pid_text)
    return pid_alive(pid) and (not start or _start_time(pid) in ("", start))


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (under any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True
