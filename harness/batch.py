"""A class folder as a list of submissions: discovery (Moodle exports too), shards, merging shards."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from .assignment import IntakeLimits
from .errors import GraderError
from .i18n import _
from .intake import expand_moodle_export, is_moodle_export, is_submission
from .results import SubmissionResult

#: Where a batch unpacks Moodle exports inside OUT, so that a rerun finds the same sources.
MOODLE_DIR = ".moodle"


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
