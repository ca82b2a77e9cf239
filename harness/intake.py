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

import bz2
import errno
import gzip
import io
import lzma
import os
import shutil
import stat
import struct
import subprocess
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from .assignment import IntakeLimits
from .errors import GraderError, InfrastructureError, IntakeError
from .i18n import _

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


def _extract_zip(source: Path, copy: _Copy) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except _UNREADABLE_FILE as exc:
        raise _refused(_("L'archive zip est illisible : {error}."), error=exc) from exc
    with archive:
        members: list[tuple[PurePosixPath, zipfile.ZipInfo]] = []
        planned = _Budget(copy.budget.limits)  # refused on the declared sizes, before anything is written
        copy.budget.check_entries(len(archive.infolist()))
        for info in archive.infolist():
            rel = _safe_relative(info.filename)
            if rel.parts and rel.parts[0] not in SKIPPED_NAMES:
                members.append((rel, info))
                planned.add(0 if info.is_dir() else info.file_size, files=0 if info.is_dir() else 1)
        for rel, info in members:
            if info.flag_bits & 0x1:
                message = _("{name} est chiffré dans l'archive : remettez une archive sans mot de passe.")
                raise _refused(message, name=rel)
            if info.compress_type not in _ZIP_METHODS:
                message = _(
                    "{name} est compressé par une méthode inconnue : refaites l'archive en zip standard."
                )
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
_GIT_CONFIG = {"core.hooksPath": "/dev/null", "core.fsmonitor": "false", "submodule.recurse": "false"}
_GIT_CONFIG |= {"protocol.allow": "never", "protocol.file.allow": "always", "transfer.fsckObjects": "true"}
_GIT_CONFIG |= {"core.bigFileThreshold": "8m"}
_GIT = ["git", *(arg for key, value in _GIT_CONFIG.items() for arg in ("-c", f"{key}={value}"))]
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_NO_LAZY_FETCH": "1"}
_GIT_TIMEOUT_S = 120
_GIT_LINK, _GIT_SUBMODULE = "120000", "160000"


def _is_bare_git(path: Path) -> bool:
    return path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()


def _git_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | _GIT_ENV


def _git(*args: str) -> bytes:
    try:
        done = subprocess.run([*_GIT, *args], capture_output=True, timeout=_GIT_TIMEOUT_S, env=_git_env())
    except FileNotFoundError as exc:
        raise InfrastructureError(f"git is not installed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        message = _("Le dépôt git n'a pas pu être lu en {s} secondes : refusé.")
        raise _refused(message, s=_GIT_TIMEOUT_S) from exc
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"git {args[0]}"]
        raise _refused(_("Le dépôt git ne peut pas être cloné : {error}."), error=error[-1])
    return done.stdout


def _check_git_source(source: Path, limits: IntakeLimits) -> None:
    """A repository stands alone: no link, no objects borrowed from elsewhere, within the size limit."""
    on_disk = _Budget(IntakeLimits(max_bytes=limits.max_bytes, max_files=1 << 62))
    for dirpath, dirnames, filenames in os.walk(source):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                message = _(
                    "Le dépôt git contient un lien symbolique ({name}) : remettez un dépôt ordinaire."
                )
                raise _refused(message, name=path.relative_to(source))
            if name in filenames:
                on_disk.add(path.lstat().st_size)
    if any((source / "objects" / "info" / name).exists() for name in ("alternates", "http-alternates")):
        raise IntakeError(
            _("Le dépôt git emprunte des objets à un autre dépôt (alternates) : remettez un dépôt autonome.")
        )


@contextmanager
def _git_stream(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A running git command, read as it writes (its output may be huge), ended on leaving."""
    command = [*_GIT, *args]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_git_env())
    timer = threading.Timer(_GIT_TIMEOUT_S, process.kill)
    timer.start()
    try:
        yield process
    finally:
        timer.cancel()
        process.kill()
        process.communicate()


def _git_tree(clone: Path, limits: IntakeLimits) -> list[tuple[PurePosixPath, str, str, int]]:
    """(path, mode, object, size) of every entry of HEAD's tree, refused over ``limits``."""
    try:
        _git("--git-dir", str(clone), "rev-parse", "--verify", "--quiet", "HEAD^{tree}")
    except IntakeError:
        return []  # no commit yet: an empty submission
    entries, planned, pending = [], _Budget(limits), b""
    with _git_stream("--git-dir", str(clone), "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD") as listing:
        assert listing.stdout is not None
        while chunk := listing.stdout.read(_CHUNK):
            *records, pending = (pending + chunk).split(b"\0")
            for record in records:
                meta, _tab, name = record.partition(b"\t")
                mode, kind, oid, length = meta.decode().split()
                rel = _safe_relative(os.fsdecode(name))
                size = int(length) if kind == "blob" else 0
                if mode == _GIT_LINK and size > _MAX_LINK_TARGET:
                    raise _refused(_("Le lien symbolique {link} est invalide : refusé."), link=rel)
                if rel.parts and rel.parts[0] not in SKIPPED_NAMES:
                    entries.append((rel, mode, oid, size))
                    planned.add(0 if mode == _GIT_LINK else size)
        if listing.wait() != 0 or pending:
            raise IntakeError(_("Le dépôt git n'a pas pu être lu jusqu'au bout : refusé."))
    return entries


def _clone_git(source: Path, clone: Path, copy: _Copy) -> None:
    """Clone without a checkout and size the checkout from its tree: over the limits, it is
    refused before anything is written. Each blob is then written through the copy, as stored:
    no filter, no hook, no submodule."""
    _check_git_source(source, copy.budget.limits)
    _git("clone", "--quiet", "--bare", "--no-local", "--", str(source.resolve()), str(clone))
    entries = _git_tree(clone, copy.budget.limits)
    with _git_stream("--git-dir", str(clone), "cat-file", "--batch") as batch:
        assert batch.stdin is not None
        assert batch.stdout is not None
        for rel, mode, oid, size in entries:
            if mode == _GIT_SUBMODULE:  # an empty folder, as a clone leaves it
                copy.folder(rel)
                continue
            batch.stdin.write(oid.encode() + b"\n")
            batch.stdin.flush()
            if batch.stdout.readline().split()[2:] != [str(size).encode()]:
                raise _refused(
                    _("Le dépôt git n'a pas pu être lu jusqu'au bout ({name}) : refusé."), name=rel
                )
            blob = _Exact(batch.stdout, size + 1)  # the content, then a newline
            with _reading(rel):
                if mode == _GIT_LINK:
                    copy.link(rel, os.fsdecode(blob.read(size)))
                else:
                    copy.file(rel, _Exact(blob, size), size, 0o755 if mode == "100755" else 0o644)
            blob.read(1)


class _Exact:
    """The next ``size`` bytes of ``stream``; a shorter stream is an IntakeError."""

    def __init__(self, stream: _Readable, size: int) -> None:
        self._stream, self._left = stream, size

    def read(self, size: int = -1, /) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(want) if want else b""
        if len(data) < want:
            raise IntakeError(_("Le dépôt git n'a pas pu être lu jusqu'au bout : refusé."))
        self._left -= len(data)
        return data


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
                    _clone_git(source, dest / "git-clone", copy)
                finally:
                    shutil.rmtree(dest / "git-clone", ignore_errors=True)
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
    return submission


def unpack_zip(archive: Path, dest: Path, limits: IntakeLimits) -> None:
    """Extract ``archive`` into the new folder ``dest`` by the rules of a submission, links judged
    within ``dest``; anything wrong with it is an :class:`IntakeError`."""
    dest.mkdir(parents=True)
    copy = _Copy(dest, limits)
    try:
        with _reading(archive.name):
            _extract_zip(archive, copy)
            copy.finish()
    finally:
        copy.close()


def is_zip(path: Path) -> bool:
    """Whether ``path`` is a zip file whose directory can be read."""
    try:
        with zipfile.ZipFile(path):
            return True
    except _UNREADABLE_FILE:
        return False
