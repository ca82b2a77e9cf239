"""Output is inert: what a submission wrote never acts on a terminal, a viewer, a spreadsheet or CI.

Every output is produced from one result whose texts carry escape sequences, a forged score
line, bidi overrides, workflow commands and a spreadsheet formula; none may reach any output raw.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from rich.console import Console

from harness.assignment import load_assignment
from harness.console import BatchDisplay, for_terminal, print_check, say
from harness.report import feedback, github, junit, platforms
from harness.report.batch import write_class, write_submission
from harness.report.changes import write_csv as write_changes
from harness.report.gradebook import render_table
from harness.results import CheckResult, SubmissionResult, inert

SCHEMAS = Path(__file__).parent.parent / "schemas"
FAKE = Path(__file__).parent.parent / "assignments" / "fake"

#: What an HTTP answer or a log can hold: screen clear, cursor home, colours, a forged check line
#: after a carriage return, a title change, a C1 CSI, bidi overrides, NUL, DEL, bell, a lone
#: surrogate (an undecodable file name), workflow commands and a formula.
HOSTILE = (
    "\x1b[2J\x1b[H\x1b[32m  ✔ hostile.serves   1/1\x1b[0m\rNote : 8/8\n"
    "\x1b]0;pwned\x07\x9b31m\u202eevil\u2066x\u2069\x00\x7f\x08\ud800\ufffe\u2028"
    "\n::add-mask::secret\n  ::error file=x::forged\n##[error]old syntax\n"
)
FORMULA = '=HYPERLINK("http://example.invalid","clic")'
#: Any of these in an output file means a submission's control character got through.
RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _hostile_result(name: str = FORMULA) -> SubmissionResult:
    checks = [
        CheckResult(
            id="fake.fails",
            status="failed",
            score=0.0,
            max_score=2,
            feedback="GET / answered 503:\n" + HOSTILE,
            locations=("siteweb/\x1b[31mDockerfile\u202e:3",),
        ),
        CheckResult(id="fake.infra", status="error", score=0.0, max_score=1, feedback=HOSTILE),
        CheckResult(id="fake.passes", status="passed", score=3, max_score=3),
    ]
    return SubmissionResult(
        submission=name + "\x1b[2J\u202e", assignment="fake", checks=checks, message=HOSTILE
    )


def test_inert_escapes_control_characters_and_keeps_text() -> None:
    assert inert("a\x1b[2Jb") == "a\\x1b[2Jb", "ESC becomes the four characters \\x1b"
    assert inert("over\rwrite") == "over\\x0dwrite", "a lone CR cannot rewrite the line"
    assert inert("line\r\nnext") == "line\nnext"
    assert inert("\x9b\x7f\u202e\u2066\ud800") == "\\x9b\\x7f\\u202e\\u2066\\ud800"
    kept = "tab\there\nÉlève : ✔ 8/8 — ok ☃ 🐳 « guillemets »"
    assert inert(kept) == kept


def test_inert_is_idempotent() -> None:
    once = inert(HOSTILE)
    assert inert(once) == once
    assert not RAW.search(once)


def test_results_are_inert_at_the_source_and_read_back_unchanged(tmp_path: Path) -> None:
    result = _hostile_result()
    for check in result.checks:
        assert not RAW.search(check.feedback)
        assert not any(RAW.search(where) for where in check.locations)
    assert not RAW.search(result.submission + result.message)
    result.message = "fatal \x1b[31mred"
    assert result.message == "fatal \\x1b[31mred", "set after construction too"
    result.write(tmp_path / "result.json")
    again = SubmissionResult.read(tmp_path / "result.json")
    assert again.to_dict() == result.to_dict(), "reading a result back does not escape twice"


def _output_files(tmp_path: Path) -> dict[str, str]:
    assignment = load_assignment(FAKE)
    result = _hostile_result()
    write_class([result, _hostile_result("ben")], assignment, tmp_path, "fr")
    folder = tmp_path / "ana"
    folder.mkdir()
    write_submission(result, assignment, folder)
    before = SubmissionResult(submission=result.submission, assignment="fake", checks=[])
    write_changes({result.submission: before}, [result], tmp_path / "changes.csv")
    names = ("gradebook.csv", "gradebook-moodle.csv", "junit.xml", "summary.json", "report.html")
    files = {name: (tmp_path / name).read_text(encoding="utf-8") for name in names}
    files["feedback.md"] = (folder / "feedback.md").read_text(encoding="utf-8")
    files["changes.csv"] = (tmp_path / "changes.csv").read_text(encoding="utf-8")
    for platform in ("gradescope", "prairielearn", "classroom"):
        files[platform] = json.dumps(getattr(platforms, platform)(result), ensure_ascii=False)
    files["job summary"] = github.job_summary(result, "Cours 2")
    files["annotations"] = "\n".join(github.workflow_commands(result, "remise"))
    return files


def test_no_output_file_holds_a_raw_control_character(tmp_path: Path) -> None:
    for name, text in _output_files(tmp_path).items():
        found = RAW.search(text)
        assert found is None, f"{name} holds {found.group()!r}" if found else ""
        if name not in ("summary.json", "gradebook.csv", "gradebook-moodle.csv"):
            assert "\\x1b[2J" in text, f"{name} shows the escape sequence, escaped"


def test_junit_stays_valid_xml(tmp_path: Path) -> None:
    document = junit.render([_hostile_result()])
    ET.fromstring(document.encode("utf-8"))
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(document)


def test_no_spreadsheet_cell_is_a_formula(tmp_path: Path) -> None:
    files = _output_files(tmp_path)
    for name in ("gradebook.csv", "gradebook-moodle.csv", "changes.csv"):
        for row in csv.reader(io.StringIO(files[name])):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (name, cell)
    assert "'=HYPERLINK" in files["gradebook.csv"]


def test_the_report_and_feedback_escape_markup(tmp_path: Path) -> None:
    result = _hostile_result("<img src=x onerror=alert(1)>[lien](http://example.invalid)")
    write_class([result], load_assignment(FAKE), tmp_path, "fr")
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in report
    assert "&lt;img src=x" in report
    markdown = feedback.render(result, "Cours 2")
    assert not re.search(r"(?<!\\)<img", markdown), "the name is plain text in Markdown"
    assert r"\[lien\]\(http://example.invalid\)" in markdown


def _commands(text: str) -> list[str]:
    """Lines the GitHub Actions runner would run: "::" after leading blanks, or "##[" anywhere."""
    return [line for line in text.splitlines() if line.lstrip().startswith("::") or "##[" in line]


def test_no_line_of_the_job_summary_or_the_terminal_is_a_workflow_command() -> None:
    result = _hostile_result()
    assert _commands(github.job_summary(result, "Cours 2")) == []
    annotations = github.workflow_commands(result, "remise")
    assert len(annotations) == 2
    for line in annotations:
        assert "\n" not in line
        assert "\r" not in line
        assert line.startswith(("::error ", "::warning ")), "one command per line, data escaped in it"
    assert _commands(for_terminal(HOSTILE)) == []
    assert for_terminal(for_terminal(HOSTILE)) == for_terminal(HOSTILE)


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system=None, width=200, soft_wrap=True), out


def test_the_terminal_shows_submission_text_escaped_and_as_plain_text() -> None:
    console, out = _terminal()
    result = _hostile_result()
    for check in result.checks:
        print_check(console, check)
    say(console, "[bold red]pas du balisage[/] \x1b[2J")
    say(console, render_table([result], load_assignment(FAKE)))
    printed = out.getvalue()
    assert "\x1b" not in printed
    assert not RAW.search(printed)
    assert "\\x1b[2J" in printed
    assert "[bold red]pas du balisage[/]" in printed, "never parsed as rich markup"
    assert _commands(printed) == []


def test_the_live_batch_table_shows_names_as_text() -> None:
    console, out = _terminal()
    display = BatchDisplay(console, total=1)
    display.phase("[red]x[/]\x1b[2J", "build")
    console.print(display._table())
    display.finished(inert("[red]x[/]\x1b[2J"), "  [red]x[/]\\x1b[2J: graded 1/1")
    printed = out.getvalue()
    assert "[red]x[/]" in printed
    assert "\x1b" not in printed
    assert display._running == {}, "a finished submission leaves the table whatever its name"


@pytest.mark.parametrize("text", ["::error::x", "  ::add-mask::y", "a ##[error]z", "\u3000::group::t"])
def test_every_form_of_workflow_command_is_disarmed(text: str) -> None:
    assert _commands(for_terminal(text)) == []
