"""Compose v2 as a subprocess: found wherever Docker installs it, run under a time limit.

A timeout, Ctrl-C or an early answer ends Compose and everything it started (its process
group); Compose only sees the environment it needs to reach the engine.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ComposeUnavailable
from .processes import POSIX_GROUPS, stop_group

_PLUGIN_DIRS = (
    "~/.docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
    "/Applications/Docker.app/Contents/Resources/cli-plugins",
    "C:/Program Files/Docker/cli-plugins",
)
_KEPT_ENV = frozenset(
    {"PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "XDG_RUNTIME_DIR",
     "SYSTEMROOT", "SystemRoot", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "ProgramData",
     # How to reach the engine, and nothing else of Docker's (DOCKER_AUTH_CONFIG holds credentials).
     "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
     "DOCKER_API_VERSION", "DOCKER_BUILDKIT", "DOCKER_DEFAULT_PLATFORM"}
)  # fmt: skip
#: What ``compose config`` sees of the environment: a fixed PATH (the binary is called by its path).
_BARE_ENV = {"PATH": "/usr/bin:/bin"}


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str  # stdout and stderr, interleaved as Compose wrote them
    timed_out: bool = False
    #: Stopped on purpose once ``stop_when`` had its answer (see :meth:`ComposeCLI.run`).
    stopped: bool = False


def compose_command() -> list[str]:
    """How to run Compose v2: ``$GRADER_COMPOSE``, the plugin binary itself, or ``docker compose``.

    The plugin is called directly where it is found, so that a timeout can end it and
    everything it started (the ``docker`` front end would leave the plugin running).
    """
    override = os.environ.get("GRADER_COMPOSE")
    if override:
        return override.split()
    suffix = ".exe" if sys.platform == "win32" else ""
    for folder in _PLUGIN_DIRS:
        candidate = Path(folder).expanduser() / f"docker-compose{suffix}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    if shutil.which("docker") is None:
        raise ComposeUnavailable("the docker command is missing: install Docker and Docker Compose v2.")
    return ["docker", "compose"]


class ComposeCLI:
    """Runs Compose subprocesses; the seam tests replace to record or fake calls."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command else compose_command()

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float,
        cwd: Path | None = None,
        stop_when: Callable[[str | None], bool] | None = None,
        bare_env: bool = False,
    ) -> CommandResult:
        """Run Compose; ``stop_when`` sees each output line (and ``None`` twice a second) and
        ends the command early by returning True, once the caller knows what it needed.
        ``bare_env`` leaves Compose nothing of the grader's environment (a fixed ``PATH``)."""
        # Only what Compose needs to reach the engine: `${VAR}` in a student's file must not
        # read the grader's environment (tokens, paths, CI secrets). Reading a file (``config``)
        # needs the engine not at all: then PATH alone.
        env = dict(_BARE_ENV) if bare_env else {k: v for k, v in os.environ.items() if k in _KEPT_ENV}
        env.update(COMPOSE_ANSI="never", BUILDKIT_PROGRESS="plain", DOCKER_CLI_HINTS="false")
        # Compose fetches `include:` from OCI registries and git repositories: never for a submission.
        env.update(COMPOSE_EXPERIMENTAL_OCI_REMOTE="false", COMPOSE_EXPERIMENTAL_GIT_REMOTE="false")
        try:
            proc = subprocess.Popen(
                [*self.command, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=POSIX_GROUPS,
            )
        except FileNotFoundError as exc:
            raise ComposeUnavailable(
                f"cannot run {self.command[0]}: install Docker Compose v2 (it comes with Docker Desktop)."
            ) from exc
        try:
            if stop_when is not None:
                return self._follow(proc, timeout, stop_when)
            out, _err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc, signal.SIGTERM, grace=10.0, kill_grace=5.0)
            out, _err = proc.communicate()
            return CommandResult(proc.returncode, out.decode("utf-8", "replace"), timed_out=True)
        except BaseException:  # Ctrl-C or SIGTERM: end Compose with us, then let the caller clean up
            stop_group(proc, signal.SIGTERM, grace=10.0, kill_grace=5.0)
            raise
        return CommandResult(proc.returncode, out.decode("utf-8", "replace"))

    @staticmethod
    def _follow(
        proc: subprocess.Popen[bytes], timeout: float, stop_when: Callable[[str | None], bool]
    ) -> CommandResult:
        lines: queue.Queue[bytes | None] = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.put(raw)
            lines.put(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        output: list[str] = []
        deadline = time.monotonic() + timeout
        outcome = {}
        try:
            while True:
                try:
                    raw = lines.get(timeout=0.5)
                except queue.Empty:
                    raw = b""
                if raw is None:  # end of output: the command is over
                    break
                line = raw.decode("utf-8", "replace") if raw else None
                if line is not None:
                    output.append(line)
                if stop_when(line.rstrip("\n") if line is not None else None):
                    outcome = {"stopped": True}
                elif time.monotonic() > deadline:
                    outcome = {"timed_out": True}
                if outcome:
                    stop_group(proc, signal.SIGTERM, grace=10.0, kill_grace=5.0)
                    break
            reader.join(timeout=15)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        return CommandResult(proc.wait(), "".join(output), **outcome)
