"""A class folder as a list of submissions: discovery (Moodle exports too), shards, merging shards."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .assignment import IntakeLimits
from .errors import GraderError
from .i18n import _
from .intake import ARCHIVE_SUFFIXES, is_submission, is_zip, unpack_zip
from .results import SubmissionResult

#: Where a batch unpacks Moodle exports inside OUT, so that a rerun finds the same sources.
MOODLE_DIR = ".moodle"
#: A top-level entry of Moodle's "download all submissions" zip: "<Full name>_<id>_assignsubmission_<plugin>_".
_MOODLE_ENTRY = re.compile(r"^(?P<student>[^/]+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?:/|$)")


def is_moodle_export(path: Path) -> bool:
    """Whether ``path`` is a Moodle "download all submissions" zip (one folder per student)."""
    if not (path.is_file() and path.name.endswith(".zip") and is_zip(path)):
        return False
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.strip("/")]
    return bool(names) and all(_MOODLE_ENTRY.match(n) for n in names)


def expand_moodle_export(export: Path, dest: Path, limits: IntakeLimits) -> list[Path]:
    """Split a Moodle export into one submission per student, named "<Full name>_<id>".

    A student who handed in a single archive becomes that archive; otherwise their folder.
    Online-text answers are left out: they are not part of a build. The whole export is
    extracted by the rules of a submission, its limits scaled by the class size; each
    student's folder is taken in again when graded, its links judged within that folder.
    """
    with zipfile.ZipFile(export) as archive:
        students = {m["id"] for n in archive.namelist() if (m := _MOODLE_ENTRY.match(n))}
    scale = max(1, len(students))
    raw = dest / ".raw"
    shutil.rmtree(dest, ignore_errors=True)
    unpack_zip(
        export, raw, IntakeLimits(max_bytes=limits.max_bytes * scale, max_files=limits.max_files * scale)
    )
    sources: list[Path] = []
    for entry in sorted(raw.iterdir()):
        found = _MOODLE_ENTRY.match(entry.name + "/")
        # A link keeps its target text when moved: only real folders and files leave the export.
        if found is None or found["plugin"] != "file" or entry.is_symlink() or not entry.is_dir():
            continue
        files = [p for p in entry.iterdir() if not p.name.startswith(".")]
        single = files[0] if len(files) == 1 and not files[0].is_symlink() else None
        if single is not None and single.is_file() and single.name.endswith(ARCHIVE_SUFFIXES):
            suffix = next(s for s in ARCHIVE_SUFFIXES if single.name.endswith(s))
            moved, target = single, dest / f"{found['student']}_{found['id']}{suffix}"
        else:
            moved, target = entry, dest / f"{found['student']}_{found['id']}"
        moved.rename(target)
        sources.append(target)
    shutil.rmtree(raw)
    return sources


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
