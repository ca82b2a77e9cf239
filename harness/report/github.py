"""GitHub Actions: the job summary (Markdown score table) and annotations on the submission's files."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..i18n import _, ngettext
from ..results import SubmissionResult
from .feedback import MARKS, verbatim


def job_summary(result: SubmissionResult, title: str, hidden: int = 0) -> str:
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
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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
