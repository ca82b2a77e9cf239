"""Content keys: a result is reused only for the same submission, assignment and grader."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import __version__
from .assignment import Assignment
from .grading import FACTS_FILE

_SKIPPED = frozenset({".git", "__pycache__"})


def _hash_tree(root: Path, digest: hashlib._Hash) -> None:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            if path.is_symlink():
                digest.update(b"link:" + str(path.readlink()).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
            digest.update(b"\0")


def content_hash(path: Path) -> str:
    """The hash of a submission as handed in: the archive's bytes, or the folder's files."""
    digest = hashlib.sha256()
    if path.is_dir():
        _hash_tree(path, digest)
    elif path.exists():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def assignment_hash(assignment: Assignment) -> str:
    """The hash of the checks, their settings, and the reference's recorded facts."""
    digest = hashlib.sha256()
    _hash_tree(assignment.directory, digest)
    facts = assignment.reference_dir() / FACTS_FILE
    if facts.is_file():
        digest.update(facts.read_bytes())
    return digest.hexdigest()[:16]


def result_key(submission: Path, assignment_key: str) -> str:
    """``assignment_key`` is :func:`assignment_hash` of the assignment, computed once per batch."""
    return f"{content_hash(submission)}-{assignment_key}-{__version__}"
