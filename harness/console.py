"""What the grader prints on a terminal (rich): check lines, feedback, the live batch display.

Text from a submission (feedback quotes logs and files, a submission names itself) is never
parsed as markup, shows its control characters escaped, and never reads as a GitHub workflow
command (the terminal of ``grader ci`` is a job log): see :func:`for_terminal`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .docker_api import ContainerState
from .i18n import _
from .report.github import no_workflow_commands
from .results import CheckResult, inert

_MARKS = {"passed": ("✔", "green"), "failed": ("✘", "red"), "error": ("!", "yellow"), "skipped": ("-", "dim")}
#: Feedback lines shown under a failed check; the rest is in result.json and feedback.md.
FEEDBACK_LINES = 40


def make_console(stderr: bool = False) -> Console:
    return Console(highlight=False, soft_wrap=True, stderr=stderr)


def for_terminal(text: str) -> str:
    """``text`` safe to print: control characters escaped, no line a CI runner would obey."""
    return no_workflow_commands(text)


def say(console: Console, text: str, style: str = "") -> None:
    """Print ``text`` as it is: no markup, nothing that acts on the terminal."""
    console.print(Text(for_terminal(text), style=style))


def check_line(check: CheckResult) -> Text:
    mark, style = _MARKS[check.status]
    line = Text("  ")
    line.append(mark, style=f"bold {style}")
    line.append(f" {check.id:<34} ")
    line.append(f"{check.score:g}/{check.max_score:g}", style=style)
    return line


def print_check(console: Console, check: CheckResult, note: str = "") -> None:
    """A check's line, then ``note`` (dim), then its feedback."""
    console.print(check_line(check))
    if note:
        say(console, f"      {note}", "dim")
    if check.feedback:
        lines = check.feedback.splitlines()
        shown = lines[:FEEDBACK_LINES]
        if len(lines) > FEEDBACK_LINES:
            shown.append(_("… ({n} lignes de plus dans result.json)").format(n=len(lines) - FEEDBACK_LINES))
        style = "" if check.status in ("failed", "error") else "dim"
        for text in shown:
            say(console, f"      {text}", style)


def print_kept(console: Console, containers: Sequence[ContainerState]) -> None:
    """How to reach what ``--keep`` left running, and how to remove it."""
    say(console, _("Conteneurs laissés en marche (--keep) :"), "bold")
    for state in containers:
        ports = ", ".join(f"http://127.0.0.1:{host} → {port}" for port, host in sorted(state.ports.items()))
        say(console, f"  {state.name} ({state.status}) {ports}")
        say(console, f"      docker logs {state.name}   |   docker exec -it {state.name} sh", "dim")
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
        name = inert(name)  # the key finished() gets: a result's name is inert
        with self._lock:
            started = self._running.get(name, ("", time.monotonic()))[1]
            self._running[name] = (phase, started)

    def finished(self, name: str, line: str) -> None:
        with self._lock:
            self._running.pop(inert(name), None)
            self.done += 1
        say(self.console, line)

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
                # Text, not str: a table cell would parse a submission's name as markup.
                table.add_row(Text(for_terminal(name)), Text(for_terminal(phase)), f"{now - started:.0f} s")
        return table


def unchanged_since(at: datetime) -> str:
    """The note of a check a self-check reused: when the run that made its result was."""
    at = at.astimezone()
    clock = _("{hour} h {minute:02d}").format(hour=at.hour, minute=at.minute)
    if at.date() == datetime.now().astimezone().date():
        return _("inchangé depuis la vérification de {time}").format(time=clock)
    return _("inchangé depuis la vérification du {date} à {time}").format(
        date=at.date().isoformat(), time=clock
    )
