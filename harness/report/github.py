"""GitHub Actions: the job summary (Markdown score table) and annotations on the submission's files."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..i18n import _, ngettext
from ..results import SubmissionResult, inert
from .feedback import MARKS, verbatim

# The runner takes a line for a command when it starts with "::" once leading blanks are trimmed,
# or when it holds "##[" anywhere (the older syntax).
_COMMAND_LINE = re.compile(r"^([^\S\n]*):(?=:)", re.MULTILINE)


def no_workflow_commands(text: str) -> str:
    """``text`` made inert, and with no line the Actions runner would run as a workflow command
    (``::add-mask::``, ``::stop-commands::``, ``##[error]`` ...): the colon or bracket is escaped."""
    return _COMMAND_LINE.sub(r"\1\\x3a", inert(text)).replace("##[", "##\\x5b")


def job_summary(result: SubmissionResult, title: str, hidden: int = 0) -> str:
    """The Markdown table of the job summary. It is printed when no summary file is set: it holds no
    line the runner would take for a command."""
    lines = [
        f"### {title}",
        "",
        _("Note : **{score}/{max}**").format(score=f"{result.score:g}", max=f"{result.max_score:g}"),
        "",
        "| " + " | ".join((_("Vérification"), _("Résultat"), _("Points"))) + " |",
        "|---|:---:|---:|",
    ]
    for check in result.checks:
        lines.append(f"| `{check.id}` | {MARKS[check.status]} | {check.score:g}/{check.max_score:g} |")
    failing = [c for c in result.checks if c.status in ("failed", "error") and c.feedback]
    for check in failing:
        lines += ["", "<details><summary>" + f"{MARKS[check.status]} <code>{check.id}</code></summary>", ""]
        lines += [*verbatim(check.feedback.strip()), "</details>"]
    if hidden:
        lines += [
            "",
            ngettext(
                "{n} vérification exécutée seulement à la correction finale",
                "{n} vérifications exécutées seulement à la correction finale",
                hidden,
            ).format(n=hidden),
        ]
    return no_workflow_commands("\n".join(lines) + "\n")


def _escape_data(text: str) -> str:
    """As GitHub's toolkit escapes command data: the command stays one line, its end where it is."""
    return inert(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(result: SubmissionResult, prefix: str = "") -> list[str]:
    """One ``::error`` workflow command per failed check, on each file (and line) it is about."""
    commands = []
    for check in result.checks:
        if check.status not in ("failed", "error"):
            continue
        level = "error" if check.status == "failed" else "warning"
        message = _escape_data(check.feedback.strip() or check.status)
        title = _escape_property(check.id)
        if not check.locations:
            commands.append(f"::{level} title={title}::{message}")
        for where in check.locations:
            path, _sep, line = where.partition(":")
            file = _escape_property(str(PurePosixPath(prefix) / path) if prefix else path)
            position = f",line={line}" if line.isdigit() else ""
            commands.append(f"::{level} file={file}{position},title={title}::{message}")
    return commands
