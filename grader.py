"""The grader's command line: parsing and printing only; the work is in :mod:`harness`.

grader check [PATH]              a student's self-check (visible checks)
grader ci [PATH] --junit FILE    the self-check on a pull request: JUnit, job summary, platform files
grader grade DIR --out OUT       grade every submission of a class folder (or a Moodle export)
grader merge OUT... --out OUT    join the outputs of --shard runs into one
grader kit OUT                   the student kit: visible checks and the reference's facts
grader reference record          measure the reference solution once (facts.json)
grader new NAME [--dir DIR]      write a new assignment folder to start from (instructor)
grader validate                  prove an assignment: reference, samples, statement, kit (instructor)
grader clean [--all]             remove what runs whose grader is gone left behind
grader images list|pull|save|load  the images an assignment needs, for machines that cannot pull

Every command that works on an assignment takes it as --assignment NAME_OR_PATH: the name of an
installed assignment (checks/<name>/) or the path of a folder holding assignment.yaml. Without
it, the one installed assignment is used; when several are installed, the flag is required.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.text import Text

from harness import __version__, cgroups, recheck
from harness.assignment import Assignment, find_assignment, installed_assignments, load_assignment
from harness.base_images import (
    ImageOutcome,
    ImageSupply,
    needed_images,
    save_archive,
    standin_of,
    undeclared_images,
)
from harness.batch import discover, merge, parse_shard, shard
from harness.buildcache import build_cache_runs, remove_build_caches
from harness.compose_cli import ComposeCLI
from harness.console import (
    BatchDisplay,
    for_terminal,
    make_console,
    print_check,
    print_kept,
    say,
    unchanged_since,
)
from harness.docker_api import DockerAPI, Leftovers
from harness.errors import DaemonUnavailable, GraderError, GraderTimeout, InfrastructureError
from harness.grading import FACTS_FILE
from harness.i18n import _, ngettext, set_language, source_messages, untranslated_messages
from harness.intake import submission_name
from harness.kit import make_kit
from harness.recheck import CheckCache
from harness.report import github, junit, platforms
from harness.report.batch import GRADEBOOK, write_class, write_submission
from harness.report.changes import write_csv as write_changes
from harness.report.gradebook import render_table
from harness.results import CheckResult, SubmissionResult, inert, write_json_atomic
from harness.runner import GradeOptions, Runner, default_jobs
from harness.scaffold import scaffold
from harness.validate import (
    Finding,
    exit_status,
    validate_kit,
    validate_reference,
    validate_samples,
    validate_statement,
)
from harness.watch import watch

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    done: every check passed (check, ci: the threshold is reached), every submission graded
  {EXIT_FAILED}    some check failed (check, ci), or the registry has no such image (images pull)
  {EXIT_ERROR}    usage error, or the work could not be done (Docker down, a time limit, a submission
       in error, an assignment that does not load): fix or rerun
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C, SIGTERM): this run's containers were removed; rerun to finish
"""

ASSIGNMENT_HELP = (
    "the assignment: the name of an installed one (checks/NAME/) or the path of a folder holding "
    "assignment.yaml (a student kit, a lab outside the project); needed when more than one is installed"
)
LEGACY_HELP = "deprecated (use --assignment); accepted until the next release"


class UsageError(Exception):
    """The command line cannot be obeyed as given: argparse's usage error, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Grades Docker and Compose lab submissions by building and running them for real.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    parser.add_argument(
        "--lang",
        choices=("fr", "en"),
        default=os.environ.get("GRADER_LANG", "fr"),
        help="language of the feedback and messages: fr (default, or $GRADER_LANG) or en",
    )
    # --lang is accepted after the command too; SUPPRESS keeps the top-level value when absent there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=("fr", "en"), default=argparse.SUPPRESS, help="fr (default) or en")
    # Every command that works on one assignment takes it this one way.
    on_assignment = argparse.ArgumentParser(add_help=False, parents=[common])
    on_assignment.add_argument("--assignment", metavar="NAME_OR_PATH", default=None, help=ASSIGNMENT_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        text: str,
        *parents: argparse.ArgumentParser,
    ) -> argparse.ArgumentParser:
        made = parent.add_parser(
            name,
            parents=list(parents),
            help=text,
            description=text,
        )
        made.set_defaults(usage=made)  # a usage error found after parsing names this command
        return made

    # What check and ci share: one submission, its visible checks.
    one = argparse.ArgumentParser(add_help=False, parents=[on_assignment])
    one.add_argument(
        "path",
        nargs="?",
        default=".",
        type=Path,
        metavar="PATH",
        help="the submission (default: this folder)",
    )
    one.add_argument("--only", action="append", default=[], metavar="ID", help="run only this check")
    one.add_argument("--all", action="store_true", help="also run hidden checks (instructor)")
    one.add_argument("--out", type=Path, help="keep result.json and the log in this folder")
    parts = argparse.ArgumentParser(add_help=False)
    parts.add_argument(
        "--parts",
        choices=("concurrent", "serial"),
        default="concurrent",
        help="grade a submission's parts at the same time (default) or one after the other",
    )

    check = command(sub, "check", "self-check one submission (visible checks only)", one, parts)
    check.add_argument(
        "--keep", action="store_true", help="leave the containers running to debug them (runs every check)"
    )
    check.add_argument(
        "--fresh",
        action="store_true",
        help="run every check again, even those of parts unchanged since the last check",
    )
    check.add_argument(
        "--watch", action="store_true", help="check again, the changed parts only, each time a file is saved"
    )

    ci = command(sub, "ci", "the self-check for CI: JUnit XML, job summary, exit code", one, parts)
    ci.add_argument("--junit", type=Path, help="write JUnit XML here")
    ci.add_argument("--gradescope", type=Path, help="write Gradescope's results.json here")
    ci.add_argument("--prairielearn", type=Path, help="write PrairieLearn's results.json here")
    ci.add_argument("--classroom", type=Path, help="write GitHub Classroom's autograding result here")
    ci.add_argument(
        "--github-summary",
        action="store_true",
        help="append the score table to $GITHUB_STEP_SUMMARY (or print it when unset)",
    )
    ci.add_argument(
        "--annotations",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("GITHUB_ACTIONS") == "true",
        help="print GitHub annotations on the files a failure is about (default: on GitHub Actions)",
    )
    ci.add_argument(
        "--threshold", type=float, default=100.0, help="percent of the visible points needed to pass (100)"
    )

    grade = command(sub, "grade", "grade every submission in a folder", on_assignment, parts)
    grade.add_argument("directory", type=Path, help="a folder of submissions, or a Moodle export zip")
    grade.add_argument("--out", type=Path, required=True, help="where results, reports and gradebooks go")
    grade.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="gradings at a time (default: one a core, as many as the memory holds; docs/usage.md)",
    )
    grade.add_argument("--only", action="append", default=[], metavar="ID", help="grade only this check")
    grade.add_argument("--shard", metavar="I/N", help="grade only the I-th of N slices of the class")
    grade.add_argument(
        "--regrade", action="store_true", help="grade again what is already graded; write changes.csv"
    )

    merge_cmd = command(sub, "merge", "join the outputs of --shard runs", on_assignment)
    merge_cmd.add_argument("outputs", nargs="+", type=Path, help="the --out folders of the shards")
    merge_cmd.add_argument("--out", type=Path, required=True, help="where the joined output goes")

    kit = command(sub, "kit", "write the student kit (visible checks, facts)", on_assignment)
    kit.add_argument("legacy_assignment", nargs="?", metavar="ASSIGNMENT", help=LEGACY_HELP)
    kit.add_argument("out", type=Path, metavar="OUT", help="the kit is written into OUT/<assignment id>/")

    reference = command(sub, "reference", "the instructor's reference solution", common)
    reference_sub = reference.add_subparsers(dest="reference_command", required=True, metavar="COMMAND")
    record = command(
        reference_sub,
        "record",
        "grade the reference and store its measured facts (facts.json)",
        on_assignment,
    )
    record.add_argument("legacy_assignment", nargs="?", metavar="ASSIGNMENT", help=LEGACY_HELP)

    new = command(sub, "new", "write a new assignment folder that passes validate, to start from", common)
    new.add_argument("name", metavar="NAME", help="the assignment's id: letters, digits, - and _")
    new.add_argument(
        "--dir", type=Path, default=Path(), help="the folder NAME/ is written into (default: this folder)"
    )

    validate = command(
        sub,
        "validate",
        "prove an assignment: its reference, its samples, its statement's grading table, its kit",
        on_assignment,
    )
    validate.add_argument(
        "--record", action="store_true", help="record the reference's facts (facts.json) while grading it"
    )
    validate.add_argument(
        "--no-samples", action="store_true", help="do not grade the samples (the slow part)"
    )
    validate.add_argument(
        "--jobs",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="samples graded at a time (default: half the cores, at least 1)",
    )

    clean = command(
        sub,
        "clean",
        "remove the containers, networks, volumes and images of runs whose grader is gone",
        common,
    )
    clean.add_argument(
        "--all",
        action="store_true",
        help="also remove the runs of graders still running (their gradings then fail)",
    )

    images = command(sub, "images", "the images an assignment needs, for machines that cannot pull", common)
    images_sub = images.add_subparsers(dest="images_command", required=True, metavar="COMMAND")
    for action, text in (
        ("list", "list them: declared in assignment.yaml, checked against the reference"),
        ("pull", "pull those this machine does not hold"),
    ):
        listed = command(images_sub, action, text, on_assignment)
        listed.add_argument("legacy_assignment", nargs="?", metavar="ASSIGNMENT", help=LEGACY_HELP)
    save = command(images_sub, "save", "write them all into one archive (docker save)", on_assignment)
    save.add_argument("legacy_assignment", nargs="?", metavar="ASSIGNMENT", help=LEGACY_HELP)
    save.add_argument("archive", type=Path, metavar="FILE", help="the archive to write")
    load = command(images_sub, "load", "load an archive written by save (docker load)", common)
    load.add_argument("archive", type=Path, metavar="FILE", help="an archive written by grader images save")
    return parser


def _preflight(docker: DockerAPI, *, compose: bool = True) -> None:
    """One clear sentence, before any grading, when Docker or Compose is missing."""
    docker.ping()
    if not compose:
        return
    result = ComposeCLI().run(["version"], timeout=30)
    if result.returncode != 0:
        raise InfrastructureError(
            "Docker Compose v2 does not run: install it (it comes with Docker Desktop)."
        )


def _assignment_name(args: argparse.Namespace) -> str:
    """The assignment a command works on: --assignment, the deprecated positional, or the one installed."""
    legacy = getattr(args, "legacy_assignment", None)
    if legacy is not None:
        if args.assignment is not None:
            raise UsageError(
                _(
                    "Le devoir est donné deux fois ({legacy} et --assignment {given}) : gardez --assignment."
                ).format(legacy=legacy, given=args.assignment)
            )
        print(
            for_terminal(
                _(
                    "Donner le devoir sans --assignment ({name}) est déprécié et ne sera plus accepté à la "
                    "prochaine version : écrivez --assignment {name}."
                ).format(name=legacy)
            ),
            file=sys.stderr,
        )
        args.assignment, args.legacy_assignment = legacy, None  # said once, even if asked again
    if args.assignment is not None:
        return str(args.assignment)
    installed = installed_assignments()
    if len(installed) == 1:
        return installed[0]
    if not installed:
        raise UsageError(
            _("Aucun devoir n'est installé : donnez --assignment DOSSIER (un dossier avec assignment.yaml).")
        )
    raise UsageError(
        _("Plusieurs devoirs sont installés ({names}) : choisissez-en un avec --assignment NOM.").format(
            names=", ".join(installed)
        )
    )


def _load(args: argparse.Namespace, *, feedback: bool = False) -> Assignment:
    """The command's assignment; with ``feedback``, say once when it leaves the language's feedback in French."""
    args.assignment = _assignment_name(args)
    assignment = load_assignment(find_assignment(args.assignment))
    if feedback:
        _warn_untranslated(assignment, args.lang)
    return assignment


def _warn_untranslated(assignment: Assignment, language: str) -> None:
    missing = untranslated_messages(assignment.directory, language)
    if not missing:
        return
    total = len(source_messages(assignment.directory))
    if len(missing) >= total:
        text = _("Le devoir {id} n'a pas de traduction anglaise : ses retours restent en français.").format(
            id=assignment.id
        )
    else:
        text = ngettext(
            "Le devoir {id} n'a pas de traduction anglaise pour {n} de ses {total} messages : ce retour "
            "reste en français.",
            "Le devoir {id} n'a pas de traduction anglaise pour {n} de ses {total} messages : ces retours "
            "restent en français.",
            len(missing),
        ).format(id=assignment.id, n=len(missing), total=total)
    print(for_terminal(text), file=sys.stderr)


def _check_summary(checks: Sequence[CheckResult], hidden: int) -> str:
    """The closing line of check and ci; "visibles" only when no hidden check ran."""
    ran = [c for c in checks if c.status != "skipped"]
    passed = sum(1 for c in ran if c.status == "passed")
    if any(c.visibility == "hidden" for c in ran):
        text = _("{passed}/{total} vérifications réussies").format(passed=passed, total=len(ran))
    else:
        text = _("{passed}/{total} vérifications visibles réussies").format(passed=passed, total=len(ran))
    if hidden:
        text += ", " + ngettext(
            "{n} vérification exécutée seulement à la correction finale",
            "{n} vérifications exécutées seulement à la correction finale",
            hidden,
        ).format(n=hidden)
    return text


def _grade_one(
    args: argparse.Namespace,
    docker: DockerAPI,
    console: Console,
    assignment: Assignment,
    keep: bool = False,
    cache: CheckCache | None = None,
) -> tuple[SubmissionResult, Runner]:
    """Grade the one submission of check and ci, printing each check as it ends."""
    visibility = "all" if args.all else "visible"
    options = GradeOptions(
        language=args.lang, visibility=visibility, only=args.only, keep=keep, parts=args.parts, cache=cache
    )
    runner = Runner(assignment, options, docker)
    say(console, _("Correction de {path} ({assignment})…").format(path=args.path, assignment=assignment.id))
    shown: set[str] = set()

    def show(check: CheckResult) -> None:
        shown.add(check.id)
        at = runner.reused.get(check.id)
        print_check(console, check, note=unchanged_since(at) if at else "")

    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        result = runner.grade(args.path.resolve(), args.out or Path(tmp), on_check=show)
    for check in result.checks:  # what the grading could not report live (refused intake, crash)
        if check.id not in shown:
            print_check(console, check)
    if result.message and not result.checks:
        say(console, f"  ! {result.message}")
    hidden = 0 if args.all else assignment.hidden_count
    console.print(_("Note : {score}/{max}").format(score=f"{result.score:g}", max=f"{result.max_score:g}"))
    console.print(_check_summary(result.checks, hidden))
    if runner.reused:
        reused = len(runner.reused)
        say(
            console,
            ngettext(
                "{n} vérification reprise d'une vérification précédente (sa partie n'a pas changé) ; "
                "--fresh refait tout.",
                "{n} vérifications reprises d'une vérification précédente (leur partie n'a pas changé) ; "
                "--fresh refait tout.",
                reused,
            ).format(n=reused),
            "dim",
        )
    return result, runner


def _self_check_cache(args: argparse.Namespace) -> CheckCache | None:
    """The cache a self-check reads and writes (harness/recheck.py): none with --keep (every stack
    must run) or when the cache folder lies inside the submission."""
    directory = recheck.default_directory()
    if recheck.inside(directory, args.path):
        print(
            for_terminal(
                _(
                    "Le dossier de cache {path} est dans la remise : la vérification n'en utilise pas "
                    "(changez GRADER_CACHE_DIR)."
                ).format(path=directory)
            ),
            file=sys.stderr,
        )
        return None
    cache = CheckCache(directory)
    return cache if not args.keep else None


def _incomplete() -> int:
    """The one submission's grading could not be done: say so, exit 2."""
    print(_("Certaines vérifications n'ont pas pu être faites : relancez la correction."), file=sys.stderr)
    return EXIT_ERROR


def cmd_check(args: argparse.Namespace, docker: DockerAPI) -> int:
    console = make_console()
    assignment = _load(args, feedback=True)
    cache = _self_check_cache(args)
    fresh = args.fresh  # --fresh: the first check only (--watch then reuses what it did)

    def once() -> int:
        nonlocal fresh
        reading = None if cache is None else CheckCache(cache.directory, read=not fresh)
        fresh = False
        result, runner = _grade_one(args, docker, console, assignment, keep=args.keep, cache=reading)
        if args.keep:
            kept = [
                c for run_id in runner.run_ids.get(result.run_id, []) for c in docker.run_containers(run_id)
            ]
            print_kept(console, kept)
        if result.status == "error":
            return _incomplete()
        return EXIT_OK if all(c.status in ("passed", "skipped") for c in result.checks) else EXIT_FAILED

    if not args.watch:
        return once()
    return watch(args.path, once, console)


def _prefix(path: Path) -> str:
    """``path`` relative to the working folder (the repository in CI), for annotations."""
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return ""
    return "" if relative == "." else relative


def cmd_ci(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args, feedback=True)
    result, _runner = _grade_one(args, docker, make_console(), assignment)
    if args.junit:
        junit.write([result], args.junit)
    exporters: dict[str, Callable[[SubmissionResult], object]] = {
        "gradescope": platforms.gradescope,
        "prairielearn": platforms.prairielearn,
        "classroom": platforms.classroom,
    }
    for name, export in exporters.items():
        path = getattr(args, name)
        if path is not None:
            write_json_atomic(path, export(result))
    hidden = 0 if args.all else assignment.hidden_count
    if args.github_summary:
        text = github.job_summary(result, assignment.title, hidden)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with Path(summary_file).open("a", encoding="utf-8") as handle:
                handle.write(text)
        else:
            print(text)  # job_summary() holds no line the runner would obey
    if args.annotations:
        for command in github.workflow_commands(result, _prefix(args.path)):
            print(command)
    if result.status == "error":
        return _incomplete()
    needed = result.max_score * args.threshold / 100.0
    return EXIT_OK if result.score >= needed - 1e-9 else EXIT_FAILED


def _finish_batch(
    results: list[SubmissionResult], assignment: Assignment, out: Path, language: str, console: Console
) -> int:
    write_class(results, assignment, out, language)
    console.print()
    say(console, render_table(results, assignment))
    console.print()
    say(console, _("Carnet de notes : {path}").format(path=out / GRADEBOOK))
    say(console, _("Rapport : {path}").format(path=out / "report.html"))
    errors = [r.submission for r in results if r.status == "error"]
    if errors:
        print(
            for_terminal(_("Correction incomplète (à relancer) : {names}").format(names=", ".join(errors))),
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_OK


def cmd_grade(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args, feedback=True)
    if not args.directory.exists():
        raise GraderError(_("{path} n'est pas un dossier de remises.").format(path=args.directory))
    args.out.mkdir(parents=True, exist_ok=True)
    sources = discover(args.directory, args.out, assignment.intake)
    if args.shard:
        index, count = parse_shard(args.shard)
        sources = shard(sources, index, count)
    if not sources:
        raise GraderError(_("Aucune remise dans {path}.").format(path=args.directory))
    console = make_console()
    options = GradeOptions(language=args.lang, visibility="all", only=args.only, parts=args.parts)
    runner = Runner(assignment, options, docker)
    if args.jobs is None:
        args.jobs = default_jobs(assignment.limits)
    pairs = [(source.resolve(), args.out / submission_name(source)) for source in sources]
    # A result's name is inert (control characters escaped); its folder keeps the name it was given.
    folders = {inert(submission_name(source)): out_dir for source, out_dir in pairs}
    todo, reused, previous = runner.plan(pairs, regrade=args.regrade)
    console.print(_plan_sentence(len(todo), len(reused), args.jobs))
    for result in reused:
        write_submission(result, assignment, folders.get(result.submission, args.out / result.submission))
    _prepare_images(runner, [job.source for job in todo], console)
    with BatchDisplay(console, len(todo)) as display:

        def done(result: SubmissionResult) -> None:
            write_submission(result, assignment, folders.get(result.submission, args.out / result.submission))
            score = f"{result.score:g}/{result.max_score:g}"
            line = f"  {result.submission}: {result.status} {score} ({result.duration_s:.0f} s)"
            display.finished(result.submission, line)

        graded = runner.grade_many(todo, jobs=args.jobs, on_done=done, on_phase=display.phase)
    if previous:
        moved = write_changes(previous, graded, args.out / "changes.csv")
        say(
            console,
            _("{n} notes de vérification ont changé : {path}").format(n=moved, path=args.out / "changes.csv"),
        )
    return _finish_batch(reused + graded, assignment, args.out, args.lang, console)


def _plan_sentence(todo: int, reused: int, jobs: int) -> str:
    """What grade is about to do, said once: how many it grades now and how many results it reuses."""
    grading = ngettext(
        "{n} remise à corriger, {jobs} à la fois.", "{n} remises à corriger, {jobs} à la fois.", todo
    ).format(n=todo, jobs=max(1, min(jobs, todo)))
    if not reused:
        return grading
    kept = ngettext(
        "{n} remise déjà corrigée : son résultat est réutilisé (--regrade pour tout refaire).",
        "{n} remises déjà corrigées : leurs résultats sont réutilisés (--regrade pour tout refaire).",
        reused,
    ).format(n=reused)
    if not todo:
        return kept + " " + _("Rien d'autre à corriger.")
    return grading + " " + kept


def _prepare_images(runner: Runner, sources: list[Path], console: Console) -> None:
    """Before gradings start: each image the class names, pulled once when absent; say what failed."""
    if not sources:
        return
    say(console, _("Préparation des images que les remises nomment…"))
    prepared = runner.prepare_images(sources)
    for outcome, count in prepared:
        if outcome.state == "pulled":
            say(console, _("  {image} : téléchargée").format(image=outcome.image))
        elif outcome.state == "unavailable":
            text = ngettext(
                "  {image} : injoignable ({detail}) ; la remise qui la nomme sera en erreur, à relancer "
                "(« grader images load » charge l'image sur une machine qui ne peut pas la télécharger).",
                "  {image} : injoignable ({detail}) ; les {n} remises qui la nomment seront en erreur, à "
                "relancer (« grader images load » charge l'image sur une machine qui ne peut pas la "
                "télécharger).",
                count,
            )
            print(
                for_terminal(text.format(image=outcome.image, detail=outcome.detail, n=count)),
                file=sys.stderr,
            )
    present = sum(1 for outcome, _count in prepared if outcome.state in ("present", "pulled"))
    if prepared:
        say(console, _("Images prêtes : {n} sur {total}.").format(n=present, total=len(prepared)))


def cmd_merge(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args)
    results = merge(args.outputs, args.out)
    foreign = sorted({r.assignment for r in results} - {assignment.id})
    if foreign:
        raise GraderError(
            _("Ces résultats sont d'un autre devoir ({found}) : ajoutez --assignment.").format(
                found=", ".join(foreign)
            )
        )
    return _finish_batch(results, assignment, args.out, args.lang, make_console())


def cmd_kit(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args)
    kit = make_kit(assignment, args.out)
    print(_("Trousse de l'étudiant : {path}").format(path=kit))
    print(_("À utiliser avec : grader check --assignment {path} MA_REMISE").format(path=kit))
    return EXIT_OK


def cmd_reference(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args, feedback=True)
    source = assignment.reference_dir()
    facts = source / FACTS_FILE
    options = GradeOptions(language=args.lang, visibility="all", record=facts)
    console = make_console()
    say(console, _("Mesure de la solution de référence {path}…").format(path=source))
    with tempfile.TemporaryDirectory(prefix="grader-reference-") as tmp:
        result = Runner(assignment, options, docker).grade(source, Path(tmp))
    for check in result.checks:
        print_check(console, check)
    if result.status == "error" or result.score < result.max_score:
        print(
            for_terminal(
                f"grader: {result.message or _('la référence ne réussit pas toutes les vérifications.')}"
            ),
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(_("Faits enregistrés : {path}").format(path=facts))
    return EXIT_OK


def cmd_new(args: argparse.Namespace, docker: DockerAPI) -> int:
    folder = scaffold(args.name, args.dir)
    print(for_terminal(_("Devoir écrit : {path}").format(path=folder)))
    print(for_terminal(_("Ensuite : grader validate --assignment {path} --record").format(path=folder)))
    return EXIT_OK


_POINT_MARKS = {"passed": ("✔", "green"), "failed": ("✘", "red"), "error": ("✘", "yellow")}


def _print_finding(console: Console, finding: Finding) -> None:
    mark, style = _POINT_MARKS[finding.status]
    line = Text()
    line.append(mark, style=f"bold {style}")
    line.append(" " + for_terminal(finding.sentence))
    console.print(line)
    for detail in finding.details:
        say(console, f"    {detail}")


def cmd_validate(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args, feedback=True)
    console = make_console()
    say(console, _("Validation du devoir {id} ({path})…").format(id=assignment.id, path=assignment.directory))
    findings = [validate_reference(assignment, docker, language=args.lang, record=args.record)]
    _print_finding(console, findings[-1])
    if args.no_samples:
        say(console, _("- Exemples non corrigés (--no-samples)."), "dim")
    else:
        with BatchDisplay(console, 0) as display:

            def start(count: int) -> None:
                display.total = count
                say(console, _plan_sentence(count, 0, args.jobs))

            def done(result: SubmissionResult) -> None:
                score = f"{result.score:g}/{result.max_score:g}"
                display.finished(result.submission, f"    {result.submission}: {result.status} {score}")

            findings.append(
                validate_samples(
                    assignment,
                    docker,
                    language=args.lang,
                    jobs=args.jobs,
                    on_start=start,
                    on_done=done,
                    on_phase=display.phase,
                )
            )
        _print_finding(console, findings[-1])
    for point in (validate_statement, validate_kit):
        findings.append(point(assignment))
        _print_finding(console, findings[-1])
    outcome = exit_status(findings)
    return {"passed": EXIT_OK, "failed": EXIT_FAILED, "error": EXIT_ERROR}[outcome]


def cmd_clean(args: argparse.Namespace, docker: DockerAPI) -> int:
    orphans, live = docker.orphaned_runs()
    if args.all and live:
        print(
            _(
                "Attention : --all supprime aussi {n} correction(s) en cours d'un autre processus grader."
            ).format(n=len(live)),
            file=sys.stderr,
        )
    removed = Leftovers([], [], [], [])
    for run in orphans + (live if args.all else []):
        found = docker.sweep(run)
        for kind in ("containers", "networks", "volumes", "images"):
            getattr(removed, kind).extend(getattr(found, kind))
    for cgroup in cgroups.orphaned_cgroups():  # after the sweep: a cgroup holding containers stays
        cgroup.remove()
    # Build cache records carry no label: a run that left only those is judged by its run id.
    for run in build_cache_runs(docker):
        if run not in live or args.all:
            remove_build_caches(docker, run)
    print(
        _("Supprimés : {c} conteneurs, {n} réseaux, {v} volumes, {i} images.").format(
            c=len(removed.containers), n=len(removed.networks), v=len(removed.volumes), i=len(removed.images)
        )
    )
    if live and not args.all:
        print(
            _(
                "Laissé en place : {n} correction(s) en cours d'un processus grader vivant (--all pour forcer)."
            ).format(n=len(live))
        )
    return EXIT_OK


#: ``grader images pull`` waits this long for one image (an official image is a few hundred MB).
IMAGES_PULL_TIMEOUT_S = 1800.0


def _image_state(outcome: ImageOutcome) -> str:
    """How ``grader images`` describes what became of one image."""
    if outcome.state in ("present", "pulled"):
        text = _("présente") if outcome.state == "present" else _("téléchargée")
        if outcome.standin:
            text += " " + _("(stand-in hors ligne, pas l'image officielle)")
        return text
    if outcome.state == "missing":
        return _("le registre n'a pas cette image : vérifiez son nom ({detail})").format(
            detail=outcome.detail
        )
    if outcome.state == "unavailable":
        return _("registre injoignable ({detail})").format(detail=outcome.detail)
    return _("pas téléchargée ({detail})").format(detail=outcome.detail or _("nom d'image illisible"))


def _print_images(rows: list[tuple[str, str]]) -> None:
    width = max((len(image) for image, _state in rows), default=0)
    for image, state in rows:
        print(for_terminal(f"{image.ljust(width)}  {state}"))


def cmd_images_list(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args)
    rows = []
    for image in needed_images(assignment):
        attrs = docker.image_attrs(image)
        present = ImageOutcome(image, "present", standin=standin_of(attrs))
        rows.append((image, _("absente") if attrs is None else _image_state(present)))
    _print_images(rows)
    for named in undeclared_images(assignment):
        print(
            for_terminal(
                _(
                    "Attention : la référence nomme {image} ({where}), que « images: » de assignment.yaml "
                    "ne déclare pas : ajoutez-la."
                ).format(image=named.image, where=named.where)
            ),
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_images_pull(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args)
    outcomes = ImageSupply(docker, pull_timeout_s=IMAGES_PULL_TIMEOUT_S).ensure(needed_images(assignment))
    _print_images([(outcome.image, _image_state(outcome)) for outcome in outcomes])
    states = {outcome.state for outcome in outcomes}
    if states & {"unavailable", "left"}:
        print(
            _(
                "Certaines images n'ont pas pu être téléchargées : chargez-les avec « grader images load ARCHIVE »."
            ),
            file=sys.stderr,
        )
        return EXIT_ERROR
    return EXIT_FAILED if "missing" in states else EXIT_OK


def cmd_images_save(args: argparse.Namespace, docker: DockerAPI) -> int:
    assignment = _load(args)
    archive: Path = args.archive
    images = needed_images(assignment)
    found = {image: docker.image_attrs(image) for image in images}
    absent = [image for image, attrs in found.items() if attrs is None]
    if absent:
        raise GraderError(
            _(
                "Ces images manquent sur cette machine : {images} ; lancez d'abord « grader images pull "
                "--assignment {name} »."
            ).format(images=", ".join(absent), name=args.assignment)
        )
    for image, attrs in found.items():
        if standin_of(attrs):
            print(
                _(
                    "Attention : {image} est un stand-in hors ligne (étiquette grader.standin), pas l'image "
                    "officielle : l'archive contient le stand-in."
                ).format(image=image),
                file=sys.stderr,
            )
    save_archive(docker, images, archive)
    size = archive.stat().st_size / 1e6
    print(
        _("Archive écrite : {path} ({n} images, {size:.0f} Mo).").format(
            path=archive, n=len(images), size=size
        )
    )
    return EXIT_OK


def cmd_images_load(args: argparse.Namespace, docker: DockerAPI) -> int:
    if not args.archive.is_file():
        raise GraderError(_("L'archive {path} n'existe pas.").format(path=args.archive))
    try:
        with args.archive.open("rb") as handle:
            loaded = docker.load_images(handle)
    except (DaemonUnavailable, GraderTimeout):
        raise
    except InfrastructureError as exc:
        raise GraderError(
            _("Docker refuse l'archive {path} (écrite par « grader images save » ?) : {error}").format(
                path=args.archive, error=exc
            )
        ) from exc
    for image in loaded:
        note = (
            _(" (stand-in hors ligne, pas l'image officielle)")
            if standin_of(docker.image_attrs(image))
            else ""
        )
        print(for_terminal(_("Chargée : {image}").format(image=image) + note))
    return EXIT_OK


IMAGE_COMMANDS: dict[str, Callable[[argparse.Namespace, DockerAPI], int]] = {
    "list": cmd_images_list,
    "pull": cmd_images_pull,
    "save": cmd_images_save,
    "load": cmd_images_load,
}


def cmd_images(args: argparse.Namespace, docker: DockerAPI) -> int:
    return IMAGE_COMMANDS[args.images_command](args, docker)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class Command:
    """What a command runs, and what of the machine it needs before it starts."""

    run: Callable[[argparse.Namespace, DockerAPI], int]
    #: "files": it only reads and writes files (no Docker); "engine": the engine, not Compose;
    #: "compose": the engine and Compose.
    needs: Literal["files", "engine", "compose"] = "compose"


COMMANDS: dict[str, Command] = {
    "check": Command(cmd_check),
    "ci": Command(cmd_ci),
    "grade": Command(cmd_grade),
    "merge": Command(cmd_merge, needs="files"),
    "kit": Command(cmd_kit, needs="files"),
    "reference": Command(cmd_reference),
    "new": Command(cmd_new, needs="files"),
    "validate": Command(cmd_validate),
    "clean": Command(cmd_clean),
    "images": Command(cmd_images, needs="engine"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    set_language(args.lang)
    if hasattr(args, "assignment"):  # settled before Docker is asked anything: a usage error is quick
        try:
            args.assignment = _assignment_name(args)
        except UsageError as exc:
            args.usage.error(str(exc))
    if getattr(args, "watch", False) and getattr(args, "keep", False):
        args.usage.error(
            _(
                "--watch et --keep ne vont pas ensemble : chaque nouvelle vérification laisserait ses conteneurs."
            )
        )
    signal.signal(signal.SIGTERM, _terminate)  # a CI cancel cleans up like Ctrl-C
    docker = DockerAPI()
    try:
        command = COMMANDS[args.command]
        if command.needs != "files":
            _preflight(docker, compose=command.needs == "compose")
        return command.run(args, docker)
    except KeyboardInterrupt:
        print(_("Interrompu : les conteneurs de cette correction ont été supprimés."), file=sys.stderr)
        return EXIT_INTERRUPTED
    except GraderError as exc:
        print(for_terminal(f"grader: {exc}"), file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
