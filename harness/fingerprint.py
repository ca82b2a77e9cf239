"""Content keys: a result is reused only for the same submission, assignment and grader.

A key is computed on the submission as handed in, before intake has judged it: it must never
fail, block or follow a link whatever the submission holds. A link counts by its target text, a
part that cannot be read (or a special file) by a marker, and a file too large for any intake
limit by its size and modification time rather than its bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from . import __version__
from .assignment import Assignment
from .grading import FACTS_FILE

_SKIPPED = frozenset({".git", "__pycache__"})
#: Past this size a file is keyed by size and modification time: hashing gigabytes would stall a batch.
_HASHED_FILE_BYTES = 256 * 1024 * 1024
#: Past this many entries the rest of a folder is left out of its key (intake refuses it anyway).
_HASHED_ENTRIES = 100_000
_CHUNK = 1 << 20


def _hash_file(path: Path | str, info: os.stat_result, digest: hashlib._Hash) -> None:
    """The bytes of the regular file ``path`` (never through a link), or a marker."""
    if info.st_size > _HASHED_FILE_BYTES:
        digest.update(b"large:%d:%d" % (info.st_size, info.st_mtime_ns))
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                digest.update(b"special")
                return
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        digest.update(b"unreadable:%d" % (exc.errno or 0))


def _hash_tree(root: Path, digest: hashlib._Hash, skip_top: frozenset[str] = frozenset()) -> None:
    pending, entries = [""], 0
    while pending:  # not recursive: a folder may be nested thousands deep
        relative = pending.pop()
        try:
            with os.scandir(root / relative) as scan:
                children = sorted((e.name, e.path, e.stat(follow_symlinks=False)) for e in scan)
        except OSError as exc:
            digest.update(b"unreadable:%d\0" % (exc.errno or 0))
            continue
        for name, path, info in children:
            if name in _SKIPPED or (not relative and name in skip_top):
                continue
            entries += 1
            if entries > _HASHED_ENTRIES:
                digest.update(b"truncated")
                return
            rel = f"{relative}/{name}" if relative else name
            digest.update(os.fsencode(rel) + b"\0")
            if stat.S_ISLNK(info.st_mode):
                try:
                    digest.update(b"link:" + os.fsencode(Path(path).readlink()))
                except OSError as exc:
                    digest.update(b"unreadable:%d" % (exc.errno or 0))
            elif stat.S_ISDIR(info.st_mode):
                digest.update(b"dir")
                pending.append(rel)
            elif stat.S_ISREG(info.st_mode):
                _hash_file(path, info, digest)
            else:
                digest.update(b"special:%o" % stat.S_IFMT(info.st_mode))
            digest.update(b"\0")


def content_hash(path: Path) -> str:
    """The hash of a submission as handed in: the archive's bytes, or the folder's files."""
    digest = hashlib.sha256()
    try:
        info = path.stat()  # the class folder's own entry may be a link: the instructor's choice
    except OSError as exc:
        digest.update(b"missing:%d" % (exc.errno or 0))
    else:
        if stat.S_ISDIR(info.st_mode):
            _hash_tree(path, digest)
        elif stat.S_ISREG(info.st_mode):
            _hash_file(path.resolve(), info, digest)
        else:
            digest.update(b"special")
    return digest.hexdigest()[:16]


def assignment_hash(assignment: Assignment) -> str:
    """The hash of the checks, their settings, and the reference's recorded facts. An assignment
    folder's samples and reference solution change no student's result (the facts do): editing
    them regrades nobody."""
    digest = hashlib.sha256()
    _hash_tree(assignment.directory, digest, skip_top=frozenset({"samples", "reference"}))
    facts = assignment.reference_dir() / FACTS_FILE
    if facts.is_file():
        digest.update(facts.read_bytes())
    return digest.hexdigest()[:16]


def result_key(submission: Path, assignment_key: str) -> str:
    """``assignment_key`` is :func:`assignment_hash` of the assignment, computed once per batch."""
    return f"{content_hash(submission)}-{assignment_key}-{__version__}"
