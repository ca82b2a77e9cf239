"""Submissions (folder, .zip, .tar.gz, bare git repository) become private working copies.

Nothing from the submission is trusted. Every entry goes through :class:`_Copy`: folders and
regular files first, each folder opened without following links and each file created
exclusively, so nothing is ever written through a link; links last, each then resolved for
real on the finished copy and refused when it leads outside or loops. Entries that would land
outside (``../``, absolute paths), hard links, special files, duplicate or conflicting entries,
copies over the size or file-count limit, and anything that cannot be read are refused with an
:class:`IntakeError` that says why: one broken submission never stops a batch.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
import zipfile
from collections.abc import Collection, Sequence
from pathlib import Path

from ..assignment import IntakeLimits
from ..errors import IntakeError
from ..i18n import _
from ._archives import _extract_tar, _extract_zip, _extract_zip_members, _open_zip
from ._copy import ARCHIVE_SUFFIXES, SKIPPED_NAMES, _Copy, _copy_folder, _reading, _refused
from ._git import _clone_git, _is_bare_git
from ._zipdir import write_zip_part

__all__ = [
    "ARCHIVE_SUFFIXES",
    "SKIPPED_NAMES",
    "intake",
    "is_submission",
    "open_zip",
    "submission_name",
    "unpack_zip_members",
    "write_zip_part",
]


def submission_name(source: Path) -> str:
    """The name a submission is known by: its file or folder name without archive suffix."""
    name = source.name
    for suffix in (*ARCHIVE_SUFFIXES, ".git"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def is_submission(path: Path) -> bool:
    """Whether ``path`` (an entry of a class folder) looks like a submission."""
    if path.name.startswith("."):
        return False
    return path.is_dir() or path.name.endswith(ARCHIVE_SUFFIXES)


def intake(source: Path, dest: Path, limits: IntakeLimits, part_names: Collection[str] = ()) -> Path:
    """Copy ``source`` into the empty folder ``dest``; return the submission's root inside it.

    ``part_names`` are the folders a submission is expected to hold at its root. Anything wrong
    with the submission's content is an :class:`IntakeError`.
    """
    if not source.exists():
        raise _refused(_("La remise {path} n'existe pas."), path=source)
    root = dest / "submission"
    root.mkdir(parents=True)
    copy = _Copy(root, limits)
    name = source.name.lower()
    is_archive = source.is_file() and name.endswith(ARCHIVE_SUFFIXES)
    if is_archive and source.stat().st_size > copy.budget.archive_bytes:
        copy.budget.add(source.stat().st_size, files=0)
    try:
        with _reading(source.name):
            if is_archive and name.endswith(".zip"):
                _extract_zip(source, copy)
            elif is_archive:
                _extract_tar(source, copy)
            elif _is_bare_git(source):
                try:
                    _clone_git(source, dest / "git", copy)
                finally:
                    shutil.rmtree(dest / "git", ignore_errors=True)
            elif source.is_dir():
                _copy_folder(source, copy)
            else:
                message = _(
                    "Format de remise inconnu ({name}) : donnez un dossier, un .zip, un .tar.gz ou un dépôt git."
                )
                raise _refused(message, name=source.name)
            submission = copy.unwrapped(part_names) if is_archive else root
            copy.finish(submission)
    finally:
        copy.close()
    if not any(root.iterdir()):
        raise IntakeError(_("La remise est vide."))
    _stamp(root)
    return submission


def _stamp(root: Path) -> None:
    """Give every entry of a private copy one modification time of its own, to the nanosecond.

    BuildKit keeps the build contexts it has received in folders keyed by the context's name,
    not its path (Compose 2.40, BuildKit before 0.27): a later or concurrent build whose context
    has the same name receives only the files whose size or modification time differ. Two
    gradings that copied files of the same path and size within one clock tick would then build
    one student's image from the other's file. A time no other copy shares makes every file of
    every grading differ; the build cache is unaffected (it keys on content).
    """
    stamp = (time.time_ns() // 10**9) * 10**9 + secrets.randbelow(10**9)
    pending = [root]
    while pending:  # not recursive (os.walk is, in 3.11): a copy may be nested thousands deep
        folder = pending.pop()
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                with contextlib.suppress(OSError):
                    os.utime(entry.path, ns=(stamp, stamp), follow_symlinks=False)
    os.utime(root, ns=(stamp, stamp))


def open_zip(path: Path, max_entries: int) -> zipfile.ZipFile:
    """``path`` opened as a zip whose end records declare at most ``max_entries`` entries (its
    directory is bounded before zipfile reads it); anything else is an :class:`IntakeError`."""
    with _reading(path.name):
        return _open_zip(path, max_entries)


def unpack_zip_members(
    archive: zipfile.ZipFile,
    members: Sequence[tuple[str, zipfile.ZipInfo]],
    dest: Path,
    limits: IntakeLimits,
) -> None:
    """Extract ``members`` (name in ``dest``, entry of ``archive``) into the new folder ``dest``
    by the rules of a submission, links judged within ``dest``; anything wrong with them is an
    :class:`IntakeError`."""
    dest.mkdir(parents=True)
    copy = _Copy(dest, limits)
    try:
        with _reading(dest.name):
            _extract_zip_members(archive, members, copy)
            copy.finish()
    finally:
        copy.close()
