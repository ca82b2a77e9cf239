"""feedback.md: what a student reads about their grading, in the grading's language.

Text from the submission is inert (see :func:`harness.results.inert`) and, in Markdown, either
fenced verbatim or escaped: it never becomes a link, an image, HTML or a heading.
"""

from __future__ import annotations

import re

from ..i18n import _
from ..results import CheckResult, SubmissionResult, inert

#: One mark per check status, for Markdown (feedback.md, the GitHub job summary).
MARKS = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "➖"}


def _fmt(value: float) -> str:
    return f"{value:g}"


def _status(check: CheckResult) -> str:
    return {
        "passed": _("réussie"),
        "failed": _("échouée"),
        "error": _("non évaluée (erreur du correcteur)"),
        "skipped": _("non applicable"),
    }[check.status]


def verbatim(text: str) -> list[str]:
    """``text`` verbatim: the fence is longer than any backtick run the text holds (logs may)."""
    text = inert(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text, fence, ""]


# What can start a link, an image, HTML, an entity, emphasis, code or a table cell inside a line.
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]()<>!|~&])")


def markdown_text(text: str) -> str:
    """``text`` (a name, a path) as plain text inside a Markdown line: the characters Markdown
    acts on are backslash-escaped, so none starts a link, an image, HTML or emphasis."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", inert(text)).replace("\n", " ")


def render(result: SubmissionResult, title: str) -> str:
    """The student's feedback as Markdown: the score, a table of checks, then each explanation."""
    lines = [
        f"# {title}",
        "",
        _("Remise : **{name}**").format(name=markdown_text(result.submission)),
        "",
        _("Note : **{score}/{max}**").format(score=_fmt(result.score), max=_fmt(result.max_score)),
        "",
    ]
    if result.status == "error":
        lines += [
            "> " + _("Certaines vérifications n'ont pas pu être faites : cette note n'est pas définitive."),
            "",
        ]
    if result.message:
        lines += verbatim(result.message)
    lines += [
        "| " + " | ".join((_("Vérification"), _("Résultat"), _("Points"))) + " |",
        "|---|---|---:|",
    ]
    for check in result.checks:
        hidden = " " + _("(cachée)") if check.visibility == "hidden" else ""
        lines.append(
            f"| `{check.id}`{hidden} | {MARKS[check.status]} {_status(check)} "
            f"| {_fmt(check.score)}/{_fmt(check.max_score)} |"
        )
    explained = [c for c in result.checks if c.feedback and c.status != "skipped"]
    if explained:
        lines += ["", "## " + _("Détails"), ""]
    for check in explained:
        lines += [f"### {MARKS[check.status]} `{check.id}`", ""]
        if check.locations:
            files = ", ".join(markdown_text(where) for where in check.locations)
            lines += [_("Fichiers concernés : {files}").format(files=files), ""]
        lines += verbatim(check.feedback.strip())
    return "\n".join(lines).rstrip() + "\n"
