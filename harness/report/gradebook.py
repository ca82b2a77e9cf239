"""The gradebook: one row per submission, one column per check, the total.

A cell is inert text and never a formula: a spreadsheet runs a cell that starts with = + - @
(a submission named "=HYPERLINK(...)" would), so such a cell gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from ..assignment import Assignment
from ..i18n import _
from ..results import SubmissionResult, inert


def rows(results: Sequence[SubmissionResult], assignment: Assignment) -> list[list[str]]:
    check_ids = list(assignment.checks)
    table = [["submission", "status", "score", "max_score", *check_ids]]
    for result in sorted(results, key=lambda r: r.submission):
        by_id = {c.id: c for c in result.checks}
        cells = []
        for check_id in check_ids:
            found = by_id.get(check_id)
            cells.append("" if found is None else ("error" if found.status == "error" else _fmt(found.score)))
        table.append([result.submission, result.status, _fmt(result.score), _fmt(result.max_score), *cells])
    return table


def _fmt(value: float) -> str:
    return f"{value:g}"


#: A Moodle export names each student "<Full name>_<participant id>" (see batch.expand_moodle_export).
_MOODLE_NAME = re.compile(r"^(?P<name>.+)_(?P<id>\d+)$")
MOODLE_HEADER = ["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"]


def moodle_rows(results: Sequence[SubmissionResult]) -> list[list[str]]:
    """Moodle's offline grading worksheet: upload it under "Assignment > Upload grading worksheet".

    Submissions from a Moodle export keep their participant number, which Moodle matches on;
    others are identified by their name. Results in ``error`` are left out: never a zero.
    """
    table = [MOODLE_HEADER]
    for result in sorted(results, key=lambda r: r.submission):
        if result.status == "error":
            continue
        found = _MOODLE_NAME.match(result.submission)
        identifier = f"Participant {found['id']}" if found else result.submission
        full_name = found["name"] if found else result.submission
        missed = [c.id for c in result.checks if c.status == "failed"]
        comment = (
            _("À revoir : {checks}").format(checks=", ".join(missed)) if missed else _("Tout est réussi.")
        )
        table.append([identifier, full_name, _fmt(result.score), _fmt(result.max_score), comment])
    return table


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str) -> str:
    """``value`` as a CSV cell that a spreadsheet shows as text: inert, and never a formula."""
    value = inert(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_text(table: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [[spreadsheet_cell(cell) for cell in row] for row in table]
    )
    return buffer.getvalue()


def _write(table: list[list[str]], path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(csv_text(table), encoding="utf-8")
    tmp.replace(path)


def write_csv(results: Sequence[SubmissionResult], assignment: Assignment, path: Path) -> None:
    _write(rows(results, assignment), path)


def write_moodle_csv(results: Sequence[SubmissionResult], path: Path) -> None:
    _write(moodle_rows(results), path)


def render_table(results: Sequence[SubmissionResult], assignment: Assignment) -> str:
    """The gradebook for a terminal: submission, status, score, and the checks not passed."""
    lines = []  # inert names: the caller prints this table on a terminal
    width = max([len(r.submission) for r in results] + [10])
    head = (_("remise"), _("statut"), _("note"), _("vérifications non réussies"))
    lines.append(f"{head[0]:<{width}}  {head[1]:<7}  {head[2]:>9}  {head[3]}")
    for result in sorted(results, key=lambda r: r.submission):
        missed = [c.id for c in result.checks if c.status in ("failed", "error")]
        score = f"{_fmt(result.score)}/{_fmt(result.max_score)}"
        lines.append(
            f"{result.submission:<{width}}  {result.status:<7}  {score:>9}  {', '.join(missed) or '-'}"
        )
    return "\n".join(lines)
