"""Bare git repositories: sized from their tree before anything is written, blobs written as stored
(no hooks, filters, submodules or network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ..assignment import IntakeLimits
from ..errors import InfrastructureError, IntakeError
from ..i18n import _
from ._copy import (
    _CHUNK,
    _MAX_LINK_TARGET,
    SKIPPED_NAMES,
    _Budget,
    _Copy,
    _Readable,
    _reading,
    _refused,
    _safe_relative,
)

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


#: What makes git read another repository or any path outside this one (gitrepository-layout(5)):
#: a common dir, a worktree's or a gitfile's pointer, objects borrowed from elsewhere.
_POINTERS = frozenset({"commondir", "gitdir"})
_BORROWED = ("objects/info/alternates", "objects/info/http-alternates")
#: The only parts of a repository the clone reads: its own config (which may include files
#: from anywhere, or name commands) is never among them.
_CLONED_PARTS = ("HEAD", "packed-refs", "shallow", "refs", "objects")


def _check_git_source(source: Path, limits: IntakeLimits) -> None:
    """A repository stands alone: no link, nothing that points git outside its folder, within
    the size limit."""
    on_disk = _Budget(IntakeLimits(max_bytes=limits.max_bytes, max_files=1 << 62))
    if (source / ".git").exists() or (source / ".git").is_symlink():
        raise _pointing_outside(".git")
    for dirpath, dirnames, filenames in os.walk(source):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                message = _(
                    "Le dépôt git contient un lien symbolique ({name}) : remettez un dépôt ordinaire."
                )
                raise _refused(message, name=path.relative_to(source))
            rel = path.relative_to(source)
            if name in _POINTERS and rel.parts[0] not in ("refs", "objects"):  # refs/heads/gitdir is a branch
                raise _pointing_outside(rel)
            if name in filenames:
                on_disk.add(path.lstat().st_size)
    if any((source / name).exists() for name in _BORROWED):
        raise IntakeError(
            _("Le dépôt git emprunte des objets à un autre dépôt (alternates) : remettez un dépôt autonome.")
        )
    if not (source / "refs").is_dir():
        message = _("Le dépôt git n'a pas de dossier refs : remettez un dépôt complet (git clone --bare).")
        raise IntakeError(message)


def _pointing_outside(name: object) -> IntakeError:
    message = _(
        "Le dépôt git renvoie à un autre dépôt ou à un dossier hors de la remise ({name}) :"
        " remettez un dépôt autonome, fait par git clone --bare."
    )
    return _refused(message, name=name)


def _private_source(source: Path, private: Path) -> None:
    """The repository's refs and objects, copied to ``private`` under a config of our own, so
    that git never reads the submission's config (its includes, its commands, its worktree)."""
    private.mkdir(parents=True)
    for name in _CLONED_PARTS:
        part = source / name
        if part.is_dir():
            shutil.copytree(part, private / name, symlinks=True)
        elif part.is_file():
            shutil.copyfile(part, private / name, follow_symlinks=False)
    config = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n"
    if _object_format(source) == "sha256":
        config = (
            "[core]\n\trepositoryformatversion = 1\n\tbare = true\n[extensions]\n\tobjectFormat = sha256\n"
        )
    (private / "config").write_text(config)


def _object_format(source: Path) -> str:
    """The hash the repository's objects are named by, read from its config without its includes."""
    if not (source / "config").is_file():
        return "sha1"
    command = [*_GIT, "config", "--file", str(source / "config"), "--no-includes", "extensions.objectformat"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=_GIT_TIMEOUT_S, env=_git_env())
    except (OSError, subprocess.TimeoutExpired):
        return "sha1"
    return done.stdout.decode("ascii", "replace").strip().lower() or "sha1"


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


def _clone_git(source: Path, work: Path, copy: _Copy) -> None:
    """Clone a private copy of the repository into the scratch folder ``work``, without a
    checkout, and size the checkout from its tree: over the limits, it is refused before
    anything is written. Each blob is then written through the copy, as stored: no filter, no
    hook, no submodule."""
    _check_git_source(source, copy.budget.limits)
    private, clone = work / "source.git", work / "clone.git"
    _private_source(source, private)
    _git("clone", "--quiet", "--bare", "--no-local", "--", str(private.resolve()), str(clone))
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
