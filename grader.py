"""The grader's command line: parsing and printing only; the work is in :mod:`harness`.

grader check [PATH]            a student's self-check (visible checks)
grader grade DIR --out OUT     grade every submission of a class folder
grader clean                   remove everything earlier runs left behind
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness import __version__
from harness.assignment import Assignment, find_assignment, load_assignment
from harness.compose import ComposeCLI
from harness.docker_api import DockerAPI
from harness.errors import GraderError, InfrastructureError
from harness.grading import FACTS_FILE
from harness.i18n import _, ngettext, set_language
from harness.intake import is_submission, submission_name
from harness.report.changes import write_csv as write_changes
from harness.report.gradebook import render_table, write_csv
from harness.results import CheckResult, SubmissionResult
from harness.runner import GradeOptions, Runner

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
_MARKS = {"passed": "✔", "failed": "✘", "error": "!", "skipped": "-"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    parser.add_argument("--lang", choices=("fr", "en"), default=os.environ.get("GRADER_LANG", "fr"))
    # --lang is accepted after the command too; SUPPRESS keeps the top-level value when absent there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=("fr", "en"), default=argparse.SUPPRESS, help="fr (default) or en")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", parents=[common], help="self-check one submission (visible checks only)")
    check.add_argument("path", nargs="?", default=".", type=Path)
    check.add_argument("--assignment", default="cours2")
    check.add_argument("--only", action="append", default=[], metavar="ID")
    check.add_argument("--all", action="store_true", help="also run hidden checks (instructor)")
    check.add_argument("--out", type=Path, help="keep result.json and the log in this folder")

    grade = sub.add_parser("grade", parents=[common], help="grade every submission in a folder")
    grade.add_argument("directory", type=Path)
    grade.add_argument("--out", type=Path, required=True)
    grade.add_argument("--assignment", default="cours2")
    grade.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    grade.add_argument("--only", action="append", default=[], metavar="ID", help="grade only this check")
    grade.add_argument(
        "--regrade", action="store_true", help="grade again what is already graded; write changes.csv"
    )

    reference = sub.add_parser("reference", parents=[common], help="the instructor's reference solution")
    reference_sub = reference.add_subparsers(dest="reference_command", required=True)
    record = reference_sub.add_parser(
        "record", parents=[common], help="grade the reference and store its measured facts (facts.json)"
    )
    record.add_argument("assignment", nargs="?", default="cours2")

    sub.add_parser(
        "clean",
        parents=[common],
        help="remove every container, network, volume and image left by earlier runs",
    )
    return parser


def _preflight(docker: DockerAPI) -> None:
    """One clear sentence, before any grading, when Docker or Compose is missing."""
    docker.ping()
    result = ComposeCLI().run(["version"], timeout=30)
    if result.returncode != 0:
        raise InfrastructureError(
            "Docker Compose v2 does not run: install it (it comes with Docker Desktop)."
        )


def _load(name: str) -> Assignment:
    return load_assignment(find_assignment(name))


def _print_check(item: CheckResult) -> None:
    print(f"  {_MARKS[item.status]} {item.id:<34} {item.score:g}/{item.max_score:g}", flush=True)
    if item.feedback:
        for line in item.feedback.splitlines():
            print(f"      {line}", flush=True)


def _print_result(result: SubmissionResult) -> None:
    for item in result.checks:
        _print_check(item)
    if result.message and not result.checks:
        print(f"  ! {result.message}")


def _check_summary(checks: Sequence[CheckResult], hidden: int) -> str:
    passed = sum(1 for c in checks if c.status == "passed")
    ran = sum(1 for c in checks if c.status != "skipped")
    text = _("{passed}/{total} vérifications visibles réussies").format(passed=passed, total=ran)
    if hidden:
        text += ", " + ngettext(
            "{n} vérification exécutée seulement à la correction finale",
            "{n} vérifications exécutées seulement à la correction finale",
            hidden,
        ).format(n=hidden)
    return text


def cmd_check(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args.assignment)
    visibility = "all" if args.all else "visible"
    runner = Runner(
        assignment, GradeOptions(language=args.lang, visibility=visibility, only=args.only), docker
    )
    print(
        _("Correction de {path} ({assignment})…").format(path=args.path, assignment=assignment.id), flush=True
    )
    shown: set[str] = set()

    def show(check: CheckResult) -> None:
        shown.add(check.id)
        _print_check(check)

    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        out = args.out or Path(tmp)
        result = runner.grade(args.path.resolve(), out, on_check=show)
    for check in result.checks:  # what the grading could not report live (refused intake, crash)
        if check.id not in shown:
            _print_check(check)
    hidden = 0 if args.all else sum(1 for c in assignment.checks.values() if c.visibility == "hidden")
    print(_("Note : {score}/{max}").format(score=f"{result.score:g}", max=f"{result.max_score:g}"))
    print(_check_summary(result.checks, hidden))
    if result.status == "error":
        print(
            _("Certaines vérifications n'ont pas pu être faites : relancez la correction."), file=sys.stderr
        )
        return EXIT_ERROR
    return EXIT_OK if all(c.status in ("passed", "skipped") for c in result.checks) else EXIT_FAILED


def cmd_grade(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args.assignment)
    if not args.directory.is_dir():
        raise GraderError(_("{path} n'est pas un dossier de remises.").format(path=args.directory))
    sources = sorted(p for p in args.directory.iterdir() if is_submission(p))
    if not sources:
        raise GraderError(_("Aucune remise dans {path}.").format(path=args.directory))
    args.out.mkdir(parents=True, exist_ok=True)
    runner = Runner(assignment, GradeOptions(language=args.lang, visibility="all", only=args.only), docker)
    print(_("{n} remises à corriger, {jobs} à la fois.").format(n=len(sources), jobs=args.jobs), flush=True)

    def done(result: SubmissionResult) -> None:
        score = f"{result.score:g}/{result.max_score:g}"
        print(f"  {result.submission}: {result.status} {score} ({result.duration_s:.0f} s)", flush=True)

    pairs = [(source.resolve(), args.out / submission_name(source)) for source in sources]
    todo, reused, previous = runner.plan(pairs, regrade=args.regrade)
    if reused:
        print(
            _("{n} remises déjà corrigées, résultats réutilisés (--regrade pour tout refaire).").format(
                n=len(reused)
            )
        )
    graded = runner.grade_many(todo, jobs=args.jobs, on_done=done)
    results = reused + graded
    if previous:
        moved = write_changes(previous, graded, args.out / "changes.csv")
        print(
            _("{n} notes de vérification ont changé : {path}").format(n=moved, path=args.out / "changes.csv")
        )
    write_csv(results, assignment, args.out / "gradebook.csv")
    print()
    print(render_table(results, assignment))
    print()
    print(_("Carnet de notes : {path}").format(path=args.out / "gradebook.csv"))
    errors = [r.submission for r in results if r.status == "error"]
    if errors:
        print(
            _("Correction incomplète (à relancer) : {names}").format(names=", ".join(errors)), file=sys.stderr
        )
        return EXIT_ERROR
    return EXIT_OK


def cmd_reference(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args.assignment)
    source = assignment.reference_dir()
    facts = source / FACTS_FILE
    options = GradeOptions(language=args.lang, visibility="all", record=facts)
    print(_("Mesure de la solution de référence {path}…").format(path=source), flush=True)
    with tempfile.TemporaryDirectory(prefix="grader-reference-") as tmp:
        result = Runner(assignment, options, docker).grade(source, Path(tmp))
    _print_result(result)
    if result.status == "error" or result.score < result.max_score:
        print(
            f"grader: {result.message or _('la référence ne réussit pas toutes les vérifications.')}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(_("Faits enregistrés : {path}").format(path=facts))
    return EXIT_OK


def cmd_clean(args: argparse.Namespace, docker: DockerAPI) -> int:
    removed = docker.sweep()
    print(
        _("Supprimés : {c} conteneurs, {n} réseaux, {v} volumes, {i} images.").format(
            c=len(removed.containers), n=len(removed.networks), v=len(removed.volumes), i=len(removed.images)
        )
    )
    return EXIT_OK


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    set_language(args.lang)
    signal.signal(signal.SIGTERM, _terminate)  # a CI cancel cleans up like Ctrl-C
    docker = DockerAPI()
    commands = {"check": cmd_check, "grade": cmd_grade, "reference": cmd_reference, "clean": cmd_clean}
    try:
        _preflight(docker)
        return commands[args.command](args, docker)
    except KeyboardInterrupt:
        print(_("Interrompu : les conteneurs de cette correction ont été supprimés."), file=sys.stderr)
        return EXIT_INTERRUPTED
    except GraderError as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
