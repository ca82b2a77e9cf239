"""The private copy a submission is written into: folders and files first, never through a link;
links last, each resolved on the finished copy; budgets, and the sentences for what is refused."""

from __future__ import annotations

import errno
import lzma
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..assignment import IntakeLimits
from ..errors import GraderError, InfrastructureError, IntakeError
from ..i18n import _

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
#: Left out of every copy: a student's VCS metadata is not part of the submission's build.
SKIPPED_NAMES = frozenset({".git"})
#: What reading a corrupt, truncated or unusual archive raises, besides OSError.
_UNREADABLE: tuple[type[Exception], ...] = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError)
_UNREADABLE += (
    EOFError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    ValueError,
    NotImplementedError,
    OverflowError,
)
_UNREADABLE_FILE: tuple[type[Exception], ...] = (*_UNREADABLE, OSError)
#: OSErrors that are the machine's fault (disk full, out of descriptors), not the submission's.
_MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EROFS}
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
#: An entry over 1 MiB that inflates more than this many times is a decompression bomb, not a lab file.
_MAX_RATIO = 200
_MAX_LINK_TARGET = 4096
_CHUNK = 1 << 20


def _refused(message: str, **values: object) -> IntakeError:
    """``message`` with ``values`` shortened: a name from an archive may be thousands of characters."""
    shown = {k: v if isinstance(v, int) else _shorten(str(v)) for k, v in values.items()}
    return IntakeError(message.format(**shown))


def _shorten(text: str, limit: int = 100) -> str:
    text = text.replace("\0", "\\0")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass
class _Budget:
    limits: IntakeLimits
    files: int = 0
    bytes: int = 0

    @property
    def entries(self) -> int:
        """Entries of any kind (folders, links, entries left out) an archive may hold: its
        listing is kept in memory, folders are not counted as files."""
        return 2 * self.limits.max_files + 1000

    @property
    def archive_bytes(self) -> int:
        """The most an archive may weigh, or inflate to: the content plus a few header blocks a file."""
        return self.limits.max_bytes + 8192 * self.limits.max_files + _CHUNK

    def check_entries(self, count: int) -> None:
        if count > self.entries:
            self.add(0, files=self.limits.max_files + 1)

    def add(self, size: int, files: int = 1) -> None:
        self.files += files
        self.bytes += size
        if self.files > self.limits.max_files:
            raise _refused(
                _("La remise contient plus de {n} fichiers : retirez les fichiers inutiles."),
                n=self.limits.max_files,
            )
        if self.bytes > self.limits.max_bytes:
            raise _refused(
                _("La remise dépasse {mb} Mo : retirez les gros fichiers (images, archives, binaires)."),
                mb=self.limits.max_bytes // (1024 * 1024),
            )


def _safe_relative(name: str) -> PurePosixPath:
    """The archive entry ``name`` as a relative path, or an IntakeError if it points outside."""
    normalized = name.replace("\\", "/")
    path = PurePosixPath(normalized)
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise _refused(_("L'archive contient un chemin absolu ({name}) : refusée."), name=name)
    if ".." in path.parts:
        raise _refused(_("L'archive contient un chemin qui sort de la remise ({name}) : refusée."), name=name)
    parts = [p for p in path.parts if p not in ("", ".")]
    encoded = [os.fsencode(p) for p in parts]
    if any(b"\0" in p or len(p) > 255 for p in encoded) or sum(map(len, encoded)) > 4000:
        raise _refused(
            _("La remise contient un nom de fichier invalide ou trop long ({name}) : renommez-le."), name=name
        )
    return PurePosixPath(*parts)


@contextmanager
def _reading(name: object) -> Iterator[None]:
    """Whatever goes wrong while reading ``name`` (an entry, or the whole submission) is the
    submission's IntakeError, except the machine's own faults."""
    try:
        yield
    except GraderError:
        raise
    except OSError as exc:
        if exc.errno in _MACHINE_ERRNOS:
            raise InfrastructureError(f"The private copy of the submission cannot be written: {exc}") from exc
        error = exc.strerror or exc
        message = _("La remise ne peut pas être lue : {name} est illisible ({error}).")
        raise _refused(message, name=name, error=error) from exc
    except _UNREADABLE as exc:
        if "CRC" in str(exc):
            raise _refused(
                _(
                    "L'archive est corrompue : le contenu de {name} ne correspond pas à sa somme de contrôle"
                    " (CRC). Refaites l'archive et remettez-la."
                ),
                name=name,
            ) from exc
        raise _refused(
            _("L'archive est corrompue ou tronquée ({name} : {error}) : refaites-la et remettez-la."),
            name=name,
            error=exc,
        ) from exc


_DIR, _FILE, _LINK = "dir", "file", "link"


class _Copy:
    """A private copy being written: no entry through a link, links created last and judged
    from where they really lead on the finished tree."""

    def __init__(self, root: Path, limits: IntakeLimits) -> None:
        self.root = root
        self.budget = _Budget(limits)
        self._kinds: dict[PurePosixPath, str] = {}
        self._links: dict[PurePosixPath, str] = {}
        self._open_dir: tuple[PurePosixPath, int] | None = None

    def _claim(self, rel: PurePosixPath, kind: str) -> None:
        """Record ``rel``, or refuse it: a second entry of one name, a file and a folder of one
        name, an entry below a link."""
        for parent in list(rel.parents)[-2::-1]:
            seen = self._kinds.setdefault(parent, _DIR)
            if seen == _LINK:
                raise _refused(
                    _(
                        "L'entrée {name} passe par le lien symbolique {link} : rien ne peut être placé à"
                        " travers un lien, remise refusée."
                    ),
                    name=rel,
                    link=parent,
                )
            if seen != _DIR:
                raise self._conflict(parent)
        before = self._kinds.get(rel)
        self.budget.check_entries(len(self._kinds))
        if before is None or before == kind == _DIR:
            self._kinds[rel] = kind
            return
        if _DIR in (kind, before):
            raise self._conflict(rel)
        raise _refused(
            _("La remise contient deux fois l'entrée {name} : refaites l'archive sans doublon."), name=rel
        )

    @staticmethod
    def _conflict(rel: PurePosixPath) -> IntakeError:
        return _refused(
            _(
                "La remise contient à la fois un fichier et un dossier nommés {name} : renommez l'un des deux."
            ),
            name=rel,
        )

    def _dir_fd(self, rel: PurePosixPath) -> int:
        """A descriptor of folder ``rel``, made if missing; never through a link (O_NOFOLLOW)."""
        if self._open_dir is not None and self._open_dir[0] == rel:
            return self._open_dir[1]
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.root, flags)
        try:
            for part in rel.parts:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, flags, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        self.close()
        self._open_dir = (rel, fd)
        return fd

    def close(self) -> None:
        if self._open_dir is not None:
            os.close(self._open_dir[1])
            self._open_dir = None

    def folder(self, rel: PurePosixPath) -> None:
        self._claim(rel, _DIR)
        self._dir_fd(rel)

    def file(self, rel: PurePosixPath, stream: _Readable, size: int, mode: int = 0o644) -> None:
        self._claim(rel, _FILE)
        self.budget.add(size)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(rel.name, flags, mode, dir_fd=self._dir_fd(rel.parent)), "wb") as out:
            written = 0
            while chunk := stream.read(_CHUNK):
                written += len(chunk)
                if written > size:  # the archive lied about the size: count what is really written
                    self.budget.add(min(len(chunk), written - size), files=0)
                out.write(chunk)

    def link(self, rel: PurePosixPath, target: str) -> None:
        if target.startswith("/"):
            raise _refused(
                _("Le lien symbolique {link} pointe vers un chemin absolu ({target}) : refusé."),
                link=rel,
                target=target,
            )
        if not target or "\0" in target or len(target) > _MAX_LINK_TARGET:
            raise _refused(_("Le lien symbolique {link} est invalide : refusé."), link=rel)
        self._claim(rel, _LINK)
        self.budget.add(0)
        self._links[rel] = target

    def unwrapped(self, part_names: Collection[str]) -> Path:
        """An archive holding one folder (``alice/siteweb/...``) is that folder's content,
        unless that folder is itself a part of the assignment (``siteweb/...``)."""
        top = [p for p in self._kinds if len(p.parts) == 1 and p.name != "__MACOSX"]
        if len(top) == 1 and self._kinds[top[0]] == _DIR and top[0].name not in part_names:
            return self.root / top[0]
        return self.root

    def finish(self, base: Path | None = None) -> None:
        """Create the links, then refuse any that really leads outside ``base`` (the root by
        default; a link outside ``base`` must stay inside the root) or never ends."""
        for rel, target in self._links.items():
            os.symlink(target, rel.name, dir_fd=self._dir_fd(rel.parent))
        self.close()
        root, inner = self.root.resolve(), (base or self.root).resolve()
        for rel, target in self._links.items():
            path = root / rel
            within = inner if inner in path.parents else root
            try:
                path.stat()
            except OSError as exc:  # a dangling link inside is harmless; a loop is not
                if exc.errno == errno.ELOOP:
                    message = _("Le lien symbolique {link} forme une boucle ({target}) : refusé.")
                    raise _refused(message, link=rel, target=target) from exc
            real = Path(os.path.realpath(path))  # Path.resolve() raises on a loop in Python 3.11
            if real != within and within not in real.parents:
                message = _("Le lien symbolique {link} sort de la remise ({target}) : refusé.")
                raise _refused(message, link=rel, target=target)


def _copy_folder(source: Path, copy: _Copy) -> None:
    pending = [PurePosixPath()]
    while pending:  # not recursive: a folder may be nested thousands deep
        rel_dir = pending.pop()
        with os.scandir(source / rel_dir) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            rel = rel_dir / entry.name
            with _reading(rel):
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    copy.link(rel, str(Path(entry.path).readlink()))
                elif stat.S_ISDIR(mode) and entry.name not in SKIPPED_NAMES:
                    copy.folder(rel)
                    pending.append(rel)
                elif stat.S_ISREG(mode):
                    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                    with os.fdopen(os.open(entry.path, flags), "rb") as stream:
                        size = os.fstat(stream.fileno()).st_size
                        copy.file(rel, stream, size, 0o755 if mode & 0o100 else 0o644)
                elif not stat.S_ISDIR(mode):
                    raise _refused(_("La remise contient un fichier spécial ({name}) : refusée."), name=rel)
