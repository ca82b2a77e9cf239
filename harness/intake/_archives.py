"""Zip and tar archives, read entry by entry into a :class:`_Copy`, bounded before and while reading."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import stat
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..i18n import _
from ._copy import (
    _CHUNK,
    _MAX_LINK_TARGET,
    _MAX_RATIO,
    _UNREADABLE_FILE,
    _ZIP_METHODS,
    SKIPPED_NAMES,
    _Budget,
    _Copy,
    _reading,
    _refused,
    _safe_relative,
)
from ._zipdir import declared_directory


def _open_zip(source: Path, max_entries: int) -> zipfile.ZipFile:
    """``source`` opened as a zip, refused first when its end records declare more than
    ``max_entries`` entries or a directory too large for them: zipfile reads the whole directory
    into memory before anything can be counted."""
    directory = declared_directory(source)
    if directory is not None and not directory.fits(max_entries):
        message = _(
            "L'archive zip annonce {n} entrées et un répertoire de {mb} Mo : c'est plus que les {max}"
            " entrées permises, refaites l'archive avec les seuls fichiers utiles."
        )
        raise _refused(message, n=directory.entries, mb=directory.size // (1024 * 1024), max=max_entries)
    try:
        return zipfile.ZipFile(source)
    except _UNREADABLE_FILE as exc:
        raise _refused(_("L'archive zip est illisible : {error}."), error=exc) from exc


def _extract_zip(source: Path, copy: _Copy) -> None:
    with _open_zip(source, copy.budget.entries) as archive:
        _extract_zip_members(archive, [(info.filename, info) for info in archive.infolist()], copy)


def _extract_zip_members(
    archive: zipfile.ZipFile, entries: Sequence[tuple[str, zipfile.ZipInfo]], copy: _Copy
) -> None:
    """Write ``entries`` (name in the copy, entry of ``archive``), refused on their declared sizes
    before anything is written."""
    members: list[tuple[PurePosixPath, zipfile.ZipInfo]] = []
    planned = _Budget(copy.budget.limits)
    copy.budget.check_entries(len(entries))
    for name, info in entries:
        rel = _safe_relative(name)
        if rel.parts and rel.parts[0] not in SKIPPED_NAMES:
            members.append((rel, info))
            planned.add(0 if info.is_dir() else info.file_size, files=0 if info.is_dir() else 1)
    for rel, info in members:
        if info.flag_bits & 0x1:
            message = _("{name} est chiffré dans l'archive : remettez une archive sans mot de passe.")
            raise _refused(message, name=rel)
        if info.compress_type not in _ZIP_METHODS:
            message = _("{name} est compressé par une méthode inconnue : refaites l'archive en zip standard.")
            raise _refused(message, name=rel)
        if info.file_size > _CHUNK and info.file_size > _MAX_RATIO * max(1, info.compress_size):
            message = _("{name} se décompresse plus de {ratio} fois sa taille dans l'archive : refusée.")
            raise _refused(message, name=rel, ratio=_MAX_RATIO)
        with _reading(rel):
            if stat.S_ISLNK(info.external_attr >> 16):
                if info.file_size > _MAX_LINK_TARGET:
                    raise _refused(_("Le lien symbolique {link} est invalide : refusé."), link=rel)
                copy.link(rel, archive.read(info).decode("utf-8", "replace"))
            elif info.is_dir():
                copy.folder(rel)
            else:
                with archive.open(info) as stream:
                    copy.file(rel, stream, info.file_size)


class _Bounded(io.RawIOBase):
    """A decompressed stream that stops, as an IntakeError, past ``limit`` bytes."""

    def __init__(self, stream: io.BufferedIOBase, limit: int) -> None:
        self._stream, self._limit, self._read = stream, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            message = _("L'archive se décompresse en plus de {mb} Mo : retirez les gros fichiers.")
            raise _refused(message, mb=self._limit // (1024 * 1024))
        buffer[: len(data)] = data
        return len(data)


def _decompressed(source: Path) -> io.BufferedIOBase:
    with source.open("rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(source, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(source, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(source, "rb")
    return source.open("rb")


def _extract_tar(source: Path, copy: _Copy) -> None:
    # Read in order as a stream, never skipped: inflating past the limit is a bomb, even in
    # entries left out (.git/).
    with _decompressed(source) as raw:
        stream = io.BufferedReader(_Bounded(raw, copy.budget.archive_bytes), _CHUNK)
        try:
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 (closed by the `with` below)
        except tarfile.TarError as exc:
            raise _refused(_("L'archive tar est illisible : {error}."), error=exc) from exc
        with archive:
            for count, member in enumerate(archive):
                copy.budget.check_entries(count)
                rel = _safe_relative(member.name)
                if rel.parts and rel.parts[0] not in SKIPPED_NAMES:
                    with _reading(rel):
                        _extract_member(archive, member, rel, copy)


def _extract_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, rel: PurePosixPath, copy: _Copy
) -> None:
    if member.issym():
        copy.link(rel, member.linkname)
    elif member.islnk():
        raise _refused(_("L'archive contient un lien physique ({name}) : refusée."), name=member.name)
    elif member.isdir():
        copy.folder(rel)
    elif member.isfile():
        stream = archive.extractfile(member)
        assert stream is not None
        with stream:
            copy.file(rel, stream, member.size)
    else:
        raise _refused(_("L'archive contient un fichier spécial ({name}) : refusée."), name=member.name)


#: Git reads nothing but the local file: no hooks, no network protocol, objects checked on
#: receipt, big blobs streamed rather than held in memory.
