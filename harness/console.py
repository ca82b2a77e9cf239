"""What the grader prints on a terminal (rich): check lines, feedback, the live batch display.

Text from a submission (feedback quotes logs and files) is never parsed as markup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .docker_api import ContainerState
from .i18n import _
from .results import CheckResult

_MARKS = {"passed": ("✔", "green"), "failed": ("✘", "red"), "error": ("!", "yellow"), "skipped": ("-", "dim")}
#: Feedback lines shown under a failed check; the rest is in result.json and feedback.md.
FEEDBACK_LINES = 40


def make_console(stderr: bool = False) -> Console:
    return Console(highlight=False, soft_wrap=True, stderr=stderr)


def check_line(check: CheckResult) -> Text:
    mark, style = _MARKS[check.status]
    line = Text("  ")
    line.append(mark, style=f"bold {style}")
    line.append(f" {check.id:<34} ")
    line.append(f"{check.score:g}/{check.max_score:g}", style=style)
    return line


def print_check(console: Console, check: CheckResult) -> None:
    console.print(check_line(check))
    if check.feedback:
        lines = check.feedback.splitlines()
        shown = lines[:FEEDBACK_LINES]
        if len(lines) > FEEDBACK_LINES:
            shown.append(_("… ({n} lignes de plus dans result.json)").format(n=len(lines) - FEEDBACK_LINES))
        style = "" if check.status in ("failed", "error") else "dim"
        for text in shown:
            console.print(Text(f"      {text}", style=style))


def print_kept(console: Console, containers: Sequence[ContainerState]) -> None:
    """How to reach what ``--keep`` left running, and how to remove it."""
    console.print(Text(_("Conteneurs laissés en marche (--keep) :"), style="bold"))
    for state in containers:
        ports = ", ".join(f"http://127.0.0.1:{host} → {port}" for port, host in sorted(state.ports.items()))
        console.print(Text(f"  {state.name} ({state.status}) {ports}"))
        console.print(
            Text(f"      docker logs {state.name}   |   docker exec -it {state.name} sh", style="dim")
        )
    console.print(_("Pour tout supprimer ensuite : grader clean"))


class BatchDisplay:
    """A live table of the gradings in flight (submission, check running, elapsed) on a terminal;
    elsewhere (CI logs, files) only one line per finished submission."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self._running: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._live = Live(console=console, refresh_per_second=2, get_renderable=self._table, transient=True)

    def __enter__(self) -> BatchDisplay:
        if self.console.is_terminal:
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.console.is_terminal:
            self._live.stop()

    def phase(self, name: str, phase: str) -> None:
        with self._lock:
            started = self._running.get(name, ("", time.monotonic()))[1]
            self._running[name] = (phase, started)

    def finished(self, name: str, line: Text) -> None:
        with self._lock:
            self._running.pop(name, None)
            self.done += 1
        self.console.print(line)

    def _table(self) -> Table:
        table = Table(
            box=None, title=_("{done}/{total} remises corrigées").format(done=self.done, total=self.total)
        )
        table.add_column(_("remise"))
        table.add_column(_("étape"))
        table.add_column(_("durée"), justify="right")
        now = time.monotonic()
        with self._lock:
            for name, (phase, started) in sorted(self._running.items()):
                table.add_row(name, phase, f"{now - started:.0f} s")
        return table
