"""``grader validate``: proves an assignment before a class is graded, point by point.

1. the reference passes every check (graded as ``grader reference record`` grades it; its facts
   are written only when asked);
2. every sample gets its expected outcome (``samples/expected.yaml``, check by check);
3. the statement's grading table equals ``assignment.yaml``;
4. the student kit holds no file of the reference and nothing about hidden checks.

Each point ends in a :class:`Finding`: passed, failed (the assignment needs a fix) or error
(a grading could not be done: rerun). The grading table of a statement is read and written here.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .assignment import Assignment, CheckSpec, checks_root
from .batch import discover
from .docker_api import DockerAPI
from .errors import GraderError
from .grading import FACTS_FILE
from .i18n import _, ngettext
from .intake import submission_name
from .kit import make_kit
from .results import CHECK_STATUSES, SubmissionResult
from .runner import GradeOptions, Runner

STATEMENT_FILE = "ENONCE.md"
EXPECTED_FILE = "expected.yaml"
#: The samples of a bundled assignment without a samples/ folder of its own: the project's sample class.
PROJECT_SAMPLES = "submissions"

FindingStatus = Literal["passed", "failed", "error"]


@dataclass(frozen=True)
class Finding:
    """The outcome of one point: a sentence, and the lines that explain a failure."""

    status: FindingStatus
    sentence: str
    details: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "passed"


def exit_status(findings: Iterable[Finding]) -> FindingStatus:
    """``error`` when a point could not be done, else ``failed`` when one failed, else ``passed``."""
    statuses = {finding.status for finding in findings}
    return "error" if "error" in statuses else "failed" if "failed" in statuses else "passed"


# -- the statement's grading table ---------------------------------------------------------------

#: A check id in backquotes: ``part.what``.
_CHECK_ID = re.compile(r"`([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+)`")
_POINTS = re.compile(r"\d+(?:\.\d+)?")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def grading_table(text: str) -> dict[str, float]:
    """The points of each check in a statement's grading tables: the Markdown tables whose last
    header cell is ``points``. A row names check ids in backquotes in its first cell and their
    points, in the same order, in its second (cours2: ``| `a.x`, `a.y` | 5, 10 |``).

    Raises :class:`GraderError` on a row whose ids and points do not pair up, or an id given twice.
    """
    table: dict[str, float] = {}
    in_table = False
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if not in_table:
            in_table = cells[-1].lower() == "points"
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the header's rule
        ids = _CHECK_ID.findall(cells[0])
        points = [float(p) for p in _POINTS.findall(cells[1])] if len(cells) > 1 else []
        if len(cells) != 2 or len(ids) != len(points):
            raise GraderError(
                _("La ligne « {line} » du barème n'associe pas chaque vérification à ses points.").format(
                    line=line.strip()
                )
            )
        for check_id, value in zip(ids, points, strict=True):
            if check_id in table:
                raise GraderError(_("Le barème donne deux fois la vérification {id}.").format(id=check_id))
            table[check_id] = value
    return table


def render_grading_table(checks: Mapping[str, CheckSpec]) -> str:
    """The grading table of a statement, one check a row, as :func:`grading_table` reads it."""
    # The statement is French, whatever language the grader speaks.
    rows = ["| vérification | points |", "|---|---|"]
    for spec in checks.values():
        note = " (à la correction finale seulement)" if spec.visibility == "hidden" else ""
        rows.append(f"| `{spec.id}`{note} | {spec.points:g} |")
    return "\n".join(rows) + "\n"


def statement_path(assignment: Assignment) -> Path | None:
    """The lab statement: ``ENONCE.md`` in the reference (where it stays home), else in the folder."""
    for folder in (assignment.reference_dir(), assignment.directory):
        if (folder / STATEMENT_FILE).is_file():
            return folder / STATEMENT_FILE
    return None


def validate_statement(assignment: Assignment) -> Finding:
    """Every visible check, with its points, in the statement's grading table; hidden checks may be
    announced there too (with their points), and nothing else."""
    path = statement_path(assignment)
    if path is None:
        return Finding(
            "failed",
            _("Aucun énoncé : écrivez {path} avec son barème (un tableau « vérification | points »).").format(
                path=assignment.reference_dir() / STATEMENT_FILE
            ),
        )
    try:
        table = grading_table(path.read_text(encoding="utf-8"))
    except GraderError as exc:
        return Finding("failed", _("Le barème de {path} est illisible.").format(path=path), (str(exc),))
    if not table:
        return Finding(
            "failed",
            _("{path} n'a pas de barème : un tableau dont la dernière colonne s'intitule « points ».").format(
                path=path
            ),
        )
    details: list[str] = []
    for spec in assignment.checks.values():
        if spec.id not in table:
            if spec.visibility == "visible":
                details.append(
                    _("{id} ({points:g} points) manque au barème.").format(id=spec.id, points=spec.points)
                )
        elif table[spec.id] != spec.points:
            details.append(
                _("{id} : {given:g} points au barème, {points:g} dans assignment.yaml.").format(
                    id=spec.id, given=table[spec.id], points=spec.points
                )
            )
    details += [
        _("{id} est au barème mais n'est pas une vérification de assignment.yaml.").format(id=check_id)
        for check_id in table
        if check_id not in assignment.checks
    ]
    if details:
        return Finding(
            "failed", _("Le barème de {path} diffère de assignment.yaml.").format(path=path), tuple(details)
        )
    return Finding(
        "passed",
        ngettext(
            "Le barème de {path} correspond à assignment.yaml ({n} vérification).",
            "Le barème de {path} correspond à assignment.yaml ({n} vérifications).",
            len(table),
        ).format(path=path, n=len(table)),
    )


# -- the reference -------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _facts_path(assignment: Assignment) -> Path | None:
    """The reference's facts (``facts.json``), which grading and the kit need; None when missing."""
    path = assignment.reference_dir() / FACTS_FILE
    return path if path.is_file() else None


def _given_as(assignment: Assignment) -> str:
    """How ``--assignment`` names this assignment in a command to copy."""
    return assignment.id if assignment.bundled else str(assignment.directory)


def validate_reference(assignment: Assignment, docker: DockerAPI, *, language: str, record: bool) -> Finding:
    """Grade the reference with every check, hidden ones too; with ``record``, store its facts."""
    source = assignment.reference_dir()
    if not source.is_dir():
        return Finding("failed", _("Aucune solution de référence : {path} n'existe pas.").format(path=source))
    facts = source / FACTS_FILE
    first = _facts_path(assignment) is None  # a new assignment: its first validation records them
    record = record or first
    options = GradeOptions(language=language, visibility="all", record=facts if record else None)
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
        result = Runner(assignment, options, docker).grade(source, Path(tmp))
    bad = [check for check in result.checks if check.status not in ("passed", "skipped")]
    if not bad and not result.message:
        skipped = sum(1 for check in result.checks if check.status == "skipped")
        total = len(result.checks)
        if skipped:
            sentence = ngettext(
                "La référence réussit {passed} vérifications sur {total} ({n} sautée, comme elle le permet)",
                "La référence réussit {passed} vérifications sur {total} ({n} sautées, comme elles le permettent)",
                skipped,
            ).format(passed=total - skipped, total=total, n=skipped)
        else:
            sentence = ngettext(
                "La référence réussit sa vérification",
                "La référence réussit ses {n} vérifications",
                total,
            ).format(n=total)
        if first:
            sentence += " " + _("; faits enregistrés pour la première fois : {path}").format(path=facts)
        elif record:
            sentence += " " + _("; faits enregistrés : {path}").format(path=facts)
        return Finding("passed", sentence + ".")
    details = [f"{check.id} ({check.status}) : {_first_line(check.feedback)}" for check in bad]
    if result.message:
        details.append(_first_line(result.message))
    status: FindingStatus = "failed" if any(check.status == "failed" for check in bad) else "error"
    name = _given_as(assignment)
    return Finding(
        status,
        _(
            "La référence {path} ne réussit pas toutes les vérifications (« grader check {path} --assignment "
            "{name} --all » montre leurs explications en entier)."
        ).format(path=source, name=name),
        tuple(details),
    )


# -- the samples ---------------------------------------------------------------------------------


def samples_folder(assignment: Assignment) -> Path | None:
    """The assignment's ``samples/``; for a bundled assignment without one, the project's sample
    class (``submissions/``) when its expected outcomes are this assignment's checks."""
    own = assignment.samples_dir()
    if own.is_dir():
        return own
    project = checks_root().parent / PROJECT_SAMPLES
    if not (assignment.bundled and (project / EXPECTED_FILE).is_file()):
        return None
    try:
        expected = _read_expected(project / EXPECTED_FILE)
    except GraderError:
        return project  # validate_samples says what is wrong with it
    if expected and all(set(outcomes) <= set(assignment.checks) for outcomes in expected.values()):
        return project
    return None


def _read_expected(path: Path) -> dict[str, dict[str, str]]:
    """``expected.yaml``: each sample's expected status, check by check."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GraderError(_("{path} est illisible : {error}").format(path=path, error=exc)) from exc
    shape = _("{path} doit associer chaque exemple à ses vérifications et leur statut attendu ({statuses}).")
    if not isinstance(raw, dict):
        raise GraderError(shape.format(path=path, statuses=", ".join(CHECK_STATUSES)))
    expected: dict[str, dict[str, str]] = {}
    for name, outcomes in raw.items():
        if not isinstance(outcomes, dict) or not set(outcomes.values()) <= set(CHECK_STATUSES):
            raise GraderError(shape.format(path=path, statuses=", ".join(CHECK_STATUSES)))
        expected[str(name)] = {str(check_id): str(status) for check_id, status in outcomes.items()}
    return expected


def sample_mismatches(result: SubmissionResult, expected: Mapping[str, str]) -> list[str]:
    """How a sample's result differs from its expected outcomes (nothing when it matches)."""
    got = {check.id: check for check in result.checks}
    lines = []
    for check_id in sorted(set(got) | set(expected), key=lambda i: (i not in got, i)):
        status = got[check_id].status if check_id in got else _("absente")
        wanted = expected.get(check_id, _("absente de {file}").format(file=EXPECTED_FILE))
        if status != wanted:
            lines.append(
                _("{id} : {status} (attendu : {expected})").format(
                    id=check_id, status=status, expected=wanted
                )
            )
        elif status == "failed" and not got[check_id].feedback.strip():
            lines.append(_("{id} échoue sans explication pour l'étudiant.").format(id=check_id))
    if result.message and lines:
        lines.append(_first_line(result.message))
    return lines


Progress = Callable[[SubmissionResult], None]
Phase = Callable[[str, str], None]


def validate_samples(
    assignment: Assignment,
    docker: DockerAPI,
    *,
    language: str,
    jobs: int,
    on_start: Callable[[int], None] | None = None,
    on_done: Progress | None = None,
    on_phase: Phase | None = None,
) -> Finding:
    """Grade every sample with every check and compare each status with ``expected.yaml``.

    ``on_start`` gets how many samples are about to be graded; ``on_phase`` and ``on_done``
    follow them as :meth:`Runner.grade_many` does.
    """
    folder = samples_folder(assignment)
    if folder is None:
        return Finding(
            "failed",
            _(
                "Aucun exemple : ajoutez {path}, une remise par dossier, et leurs résultats attendus dans "
                "{file}."
            ).format(path=assignment.samples_dir(), file=EXPECTED_FILE),
        )
    if not (folder / EXPECTED_FILE).is_file():
        return Finding(
            "failed",
            _("{path} manque : donnez le statut attendu de chaque vérification, pour chaque exemple.").format(
                path=folder / EXPECTED_FILE
            ),
        )
    try:
        expected = _read_expected(folder / EXPECTED_FILE)
    except GraderError as exc:
        return Finding("failed", str(exc))
    if _facts_path(assignment) is None:
        return Finding(
            "failed",
            _("Les exemples ne sont pas corrigés : les faits de la référence manquent ({path}).").format(
                path=assignment.reference_dir() / FACTS_FILE
            ),
        )
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
        sources = discover(folder, Path(tmp), assignment.intake)
        names = {submission_name(source) for source in sources}
        details = [
            _("{name} est dans {file} mais n'est pas un exemple de {path}.").format(
                name=name, file=EXPECTED_FILE, path=folder
            )
            for name in sorted(set(expected) - names)
        ]
        details += [
            _("L'exemple {name} n'a pas de résultat attendu dans {file}.").format(
                name=name, file=EXPECTED_FILE
            )
            for name in sorted(names - set(expected))
        ]
        runner = Runner(assignment, GradeOptions(language=language, visibility="all"), docker)
        pairs = [
            (source.resolve(), Path(tmp) / "out" / submission_name(source))
            for source in sources
            if submission_name(source) in expected
        ]
        if on_start is not None:
            on_start(len(pairs))
        runner.prepare_images(source for source, _out in pairs)
        results = runner.grade_many(pairs, jobs=jobs, on_done=on_done, on_phase=on_phase)
    failed, unfinished = bool(details), False
    for result in sorted(results, key=lambda r: r.submission):
        lines = sample_mismatches(result, expected[result.submission])
        details += [f"{result.submission} : {line}" for line in lines]
        if lines and result.status == "error":
            unfinished = True  # the grading could not be done: rerun, nothing to fix yet
        elif lines:
            failed = True
    if not details:
        return Finding(
            "passed",
            ngettext(
                "L'exemple obtient le résultat attendu ({path}).",
                "Les {n} exemples obtiennent le résultat attendu ({path}).",
                len(results),
            ).format(n=len(results), path=folder / EXPECTED_FILE),
        )
    return Finding(
        "failed" if failed or not unfinished else "error",
        _("Des exemples n'obtiennent pas le résultat attendu ({path}).").format(path=folder / EXPECTED_FILE),
        tuple(details),
    )


# -- the kit -------------------------------------------------------------------------------------


def _names_in(text: str, names: Iterable[str]) -> list[str]:
    return sorted(name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text))


def validate_kit(assignment: Assignment) -> Finding:
    """Build the kit into a temporary folder: no file of the reference, no hidden check's id."""
    if _facts_path(assignment) is None:
        return Finding(
            "failed",
            _(
                "La trousse de l'étudiant n'est pas écrite : les faits de la référence manquent ({path})."
            ).format(path=assignment.reference_dir() / FACTS_FILE),
        )
    hidden = {spec.id for spec in assignment.checks.values() if spec.visibility == "hidden"}
    reference = assignment.reference_dir()
    # facts.json is the one thing taken from the reference: the kit rewrites it with the facts it ships.
    reference_files = {
        path.relative_to(reference).as_posix(): path.read_bytes()
        for path in sorted(reference.rglob("*"))
        if path.is_file() and path.name != FACTS_FILE
    }
    reference_contents = {data for data in reference_files.values() if data.strip()}
    with tempfile.TemporaryDirectory(prefix="grader-validate-kit-") as tmp:
        try:
            kit = make_kit(assignment, Path(tmp))
        except GraderError as exc:
            return Finding("failed", _("La trousse de l'étudiant ne peut pas être écrite."), (str(exc),))
        details: list[str] = []
        shipped = sorted(path for path in kit.rglob("*") if path.is_file())
        for path in shipped:
            rel = path.relative_to(kit).as_posix()
            data = path.read_bytes()
            if rel != FACTS_FILE and (rel in reference_files or data in reference_contents):
                details.append(_("{file} est un fichier de la référence.").format(file=rel))
            leaked = _names_in(data.decode("utf-8", "replace"), hidden)
            if leaked:
                details.append(
                    _("{file} nomme des vérifications cachées : {ids}.").format(
                        file=rel, ids=", ".join(leaked)
                    )
                )
        count = len(shipped)
    if details:
        return Finding(
            "failed",
            _("La trousse de l'étudiant laisse passer ce qui doit rester chez vous."),
            tuple(details),
        )
    return Finding(
        "passed",
        ngettext(
            "La trousse de l'étudiant ({n} fichier) ne contient aucun fichier de la référence ni rien des "
            "vérifications cachées.",
            "La trousse de l'étudiant ({n} fichiers) ne contient aucun fichier de la référence ni rien des "
            "vérifications cachées.",
            count,
        ).format(n=count),
    )
