"""A class folder as a list of submissions: discovery (Moodle exports too), shards, merging shards."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .assignment import IntakeLimits
from .errors import GraderError, IntakeError
from .i18n import _
from .intake import ARCHIVE_SUFFIXES, is_submission, open_zip, unpack_zip_members, write_zip_part
from .results import SubmissionResult

#: Where a batch unpacks Moodle exports inside OUT, so that a rerun finds the same sources.
MOODLE_DIR = ".moodle"
#: A top-level entry of Moodle's "download all submissions" zip: "<Full name>_<id>_assignsubmission_<plugin>_".
#: The most entries a Moodle export may declare (a class of 400 students of 250 entries each):
#: its directory is read in the grader's own process, before any per-grading limit applies.
MOODLE_MAX_ENTRIES = 100_000
_MOODLE_ENTRY = re.compile(r"^(?P<student>[^/]+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?:/|$)")


def is_moodle_export(path: Path) -> bool:
    """Whether ``path`` is a Moodle "download all submissions" zip (one folder per student) of
    at most :data:`MOODLE_MAX_ENTRIES` entries; its directory is sized before it is read."""
    if not (path.is_file() and path.name.endswith(".zip")):
        return False
    try:
        with open_zip(path, MOODLE_MAX_ENTRIES) as archive:
            names = [n for n in archive.namelist() if n.strip("/")]
    except IntakeError:
        return False
    return bool(names) and all(_MOODLE_ENTRY.match(n) for n in names)


def expand_moodle_export(export: Path, dest: Path, limits: IntakeLimits) -> list[Path]:
    """Split a Moodle export into one submission per student, named "<Full name>_<id>".

    Each student's entries are judged on their own, by the rules of a submission: a student who
    handed in a single archive becomes that archive, otherwise their folder. A student whose
    entries are refused becomes a zip of those entries as stored, so that grading refuses it
    with the same sentence while every other student is graded. Online-text answers are left
    out: they are not part of a build.
    """
    shutil.rmtree(dest, ignore_errors=True)
    (dest / ".raw").mkdir(parents=True)
    sources: list[Path] = []
    with open_zip(export, MOODLE_MAX_ENTRIES) as archive:
        for name, members in sorted(_student_parts(archive).items()):
            folder = dest / ".raw" / name
            try:
                unpack_zip_members(archive, members, folder, limits)
            except IntakeError:
                write_zip_part(export, members, dest / f"{name}.zip")
                sources.append(dest / f"{name}.zip")
                continue
            files = [p for p in folder.iterdir() if not p.name.startswith(".")]
            single = files[0] if len(files) == 1 and not files[0].is_symlink() else None
            if single is not None and single.is_file() and single.name.endswith(ARCHIVE_SUFFIXES):
                suffix = next(s for s in ARCHIVE_SUFFIXES if single.name.endswith(s))
                moved, target = single, dest / f"{name}{suffix}"
            else:
                moved, target = folder, dest / name
            moved.rename(target)
            sources.append(target)
    shutil.rmtree(dest / ".raw")
    return sources


def _student_parts(archive: zipfile.ZipFile) -> dict[str, list[tuple[str, zipfile.ZipInfo]]]:
    """Each student's file entries, named within their folder, in the export's order. A
    student's folder that is not a folder (a link) is left out."""
    parts: dict[str, list[tuple[str, zipfile.ZipInfo]]] = {}
    for info in archive.infolist():
        found = _MOODLE_ENTRY.match(info.filename)
        if found is None or found["plugin"] != "file" or not found[0].endswith("/"):
            continue
        members = parts.setdefault(f"{found['student']}_{found['id']}", [])
        if info.filename != found[0]:
            members.append((info.filename[len(found[0]) :], info))
    return parts


def discover(directory: Path, out: Path, limits: IntakeLimits) -> list[Path]:
    """The submissions of ``directory`` (a folder, or a Moodle export zip), sorted by name.

    Each Moodle export found is unpacked into ``OUT/.moodle/<export>/``, one submission a student.
    """
    if directory.is_file():
        if not is_moodle_export(directory):
            raise GraderError(
                _("{path} n'est ni un dossier de remises ni un export Moodle.").format(path=directory)
            )
        entries = [directory]
    else:
        entries = sorted(p for p in directory.iterdir() if is_submission(p))
    sources: list[Path] = []
    for entry in entries:
        if is_moodle_export(entry):
            sources += expand_moodle_export(entry, out / MOODLE_DIR / entry.stem, limits)
        else:
            sources.append(entry)
    return sorted(sources, key=lambda p: p.name)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as (I, N), 1 <= I <= N."""
    index, _sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise GraderError(
            _("--shard attend I/N, par exemple 1/4 (reçu : {text}).").format(text=text)
        ) from None
    if not 1 <= i <= n:
        raise GraderError(_("--shard attend I/N avec 1 ≤ I ≤ N (reçu : {text}).").format(text=text))
    return i, n


def shard(sources: Sequence[Path], index: int, count: int) -> list[Path]:
    """The ``index``-th of ``count`` slices: every count-th submission by name, so slices are even."""
    ordered = sorted(sources, key=lambda p: p.name)
    return [source for position, source in enumerate(ordered) if position % count == index - 1]


def merge(outputs: Sequence[Path], merged: Path) -> list[SubmissionResult]:
    """Copy every submission folder of the shard ``outputs`` into ``merged``; return their results."""
    results: dict[str, SubmissionResult] = {}
    merged.mkdir(parents=True, exist_ok=True)
    for out in outputs:
        if not out.is_dir():
            raise GraderError(_("{path} n'est pas un dossier de résultats.").format(path=out))
        for result_file in sorted(out.glob("*/result.json")):
            try:
                result = SubmissionResult.read(result_file)
            except (OSError, ValueError, KeyError) as exc:
                raise GraderError(
                    _("{path} est illisible ({error}) : regradez ce morceau.").format(
                        path=result_file, error=exc
                    )
                ) from exc
            if result.submission in results:
                raise GraderError(
                    _("La remise {name} est dans deux des dossiers fusionnés.").format(name=result.submission)
                )
            results[result.submission] = result
            if out.resolve() != merged.resolve():
                shutil.copytree(result_file.parent, merged / result_file.parent.name, dirs_exist_ok=True)
    if not results:
        raise GraderError(_("Aucun résultat (*/result.json) dans les dossiers à fusionner."))
    return list(results.values())
