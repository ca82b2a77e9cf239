"""Stopping a child process and everything it started, portably."""

from __future__ import annotations

import os
import signal
import subprocess

#: Whether children run in their own process group (POSIX), so a signal reaches all they started.
POSIX_GROUPS = hasattr(os, "killpg")


def stop_group(
    proc: subprocess.Popen[bytes], first: signal.Signals, grace: float, kill_grace: float = 10.0
) -> None:
    """Send ``first`` to the process's group, wait ``grace`` seconds, then SIGKILL if it lingers.

    The process must have been started with ``start_new_session=True`` on POSIX. Elsewhere,
    ``terminate()`` then ``kill()`` stand in for the two signals.
    """
    for sig, wait in ((first, grace), (getattr(signal, "SIGKILL", signal.SIGTERM), kill_grace)):
        if proc.poll() is not None:
            return
        try:
            if POSIX_GROUPS:
                os.killpg(proc.pid, sig)
            elif sig == first:
                proc.terminate()
            else:
                proc.kill()
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
