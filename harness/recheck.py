"""What ``grader check`` remembers between two runs, so that an edit costs only what it changed.

A self-check's results are kept by group of checks (:meth:`Assignment.groups`: the checks of one
part, and the checks that read every part), each under a key made of what that group's results
depend on: the files of its part (every file of the submission for the group that reads them
all), the assignment and its recorded facts, the grader's version, and the run's options
(language, visibility, ``--only``). A later self-check whose key is the same shows those results
again, said to be unchanged since the run that made them, and does not run those checks.

Only ``grader check`` reads and writes this cache: ``grade`` and ``ci`` always run everything. A
group with a check in ``error`` is never kept (the grader's trouble is not a result). The cache is
a folder of small JSON files the student may delete at any time (default
``$XDG_CACHE_HOME/grader/checks``, else ``~/.cache/grader/checks``; ``GRADER_CACHE_DIR`` moves it),
never inside the submission; it keeps the :data:`MAX_ENTRIES` most recent entries of each
assignment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import __version__
from .assignment import Assignment
from .fingerprint import content_hash
from .results import CheckResult, write_json_atomic

CACHE_ENV = "GRADER_CACHE_DIR"
#: Entries kept per assignment (the oldest go first): a few submissions' worth of edits.
MAX_ENTRIES = 200


def default_directory() -> Path:
    """Where the cache lives unless ``GRADER_CACHE_DIR`` says otherwise."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grader" / "checks"


@dataclass(frozen=True)
class Reused:
    """A group's results as a previous self-check left them, and when it did."""

    checks: tuple[CheckResult, ...]
    at: datetime


@dataclass(frozen=True)
class CheckCache:
    """The results of earlier self-checks, by group key, under ``directory/<assignment id>/``."""

    directory: Path
    #: False (``--fresh``): nothing is reused, but what runs is kept for the next self-check.
    read: bool = True

    def key(
        self,
        assignment: Assignment,
        assignment_key: str,
        group: str,
        root: Path,
        options: Sequence[str],
    ) -> str:
        """What the results of ``group`` depend on, for the private copy ``root`` of a submission."""
        # A part's folder may be a link inside the copy (intake proved it stays inside): its
        # content is that of the folder it leads to, as for a submission handed in as a link.
        content = content_hash(root / assignment.parts[group].directory if group else root)
        text = json.dumps([__version__, assignment.id, assignment_key, group, content, list(options)])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _path(self, assignment_id: str, key: str) -> Path:
        return self.directory / assignment_id / f"{key}.json"

    def get(self, assignment_id: str, key: str, checks: Sequence[str]) -> Reused | None:
        """The results kept under ``key``, when they are those of exactly ``checks``."""
        if not self.read:
            return None
        try:
            data = json.loads(self._path(assignment_id, key).read_text(encoding="utf-8"))
            found = tuple(CheckResult.from_dict(item) for item in data["checks"])
            at = datetime.fromisoformat(str(data["at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, cut short or from elsewhere: the checks run again
        if [check.id for check in found] != list(checks) or any(c.status == "error" for c in found):
            return None
        return Reused(found, at)

    def put(self, assignment_id: str, key: str, checks: Sequence[CheckResult], at: datetime) -> bool:
        """Keep ``checks`` under ``key`` (not when one is in ``error``); False when the folder
        cannot be written (the self-check goes on without a cache)."""
        if not checks or any(check.status == "error" for check in checks):
            return False
        document = {"at": at.isoformat(), "checks": [check.to_dict() for check in checks]}
        try:
            write_json_atomic(self._path(assignment_id, key), document)
            self._prune(assignment_id)
        except OSError:
            return False
        return True

    def _prune(self, assignment_id: str) -> None:
        entries = sorted((self.directory / assignment_id).glob("*.json"), key=_mtime, reverse=True)
        for stale in entries[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                stale.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def inside(directory: Path, submission: Path) -> bool:
    """Whether ``directory`` lies inside ``submission`` (the cache never does)."""
    folder, root = directory.resolve(), submission.resolve()
    return folder == root or root in folder.parents
