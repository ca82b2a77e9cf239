"""``grader check --watch``: check again each time the student saves a file.

The submission is looked at twice a second (the files' sizes and modification times, never their
content); a change starts a new check once nothing more has changed for :data:`SETTLE_S` (an
editor saving several files, a ``git checkout``, is one change). The self-check cache then runs
only the parts whose files changed. Ctrl-C stops the check under way, which removes what it
started, and ends the watch.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from .console import say
from .i18n import _, ngettext

POLL_S = 0.5
#: How long the submission must stay unchanged before a new check starts.
SETTLE_S = 1.0
#: Past this many entries the rest is not watched (the intake refuses such a submission anyway).
MAX_ENTRIES = 20_000
_SKIPPED = frozenset({".git", "__pycache__", ".grader"})

Snapshot = dict[str, tuple[int, int]]


def snapshot(path: Path) -> Snapshot:
    """Each file's (size, modification time) under ``path`` (or of ``path``, an archive)."""
    found: Snapshot = {}
    try:
        info = path.stat()
    except OSError:
        return found
    if not stat.S_ISDIR(info.st_mode):
        return {"": (info.st_size, info.st_mtime_ns)}
    pending = [""]
    while pending and len(found) < MAX_ENTRIES:
        relative = pending.pop()
        try:
            with os.scandir(path / relative) as scan:
                entries = [
                    (e.name, e.is_dir(follow_symlinks=False), e.stat(follow_symlinks=False)) for e in scan
                ]
        except OSError:
            continue
        for name, is_dir, entry in entries:
            if name in _SKIPPED:
                continue
            rel = f"{relative}/{name}" if relative else name
            if is_dir:
                pending.append(rel)
            else:
                found[rel] = (entry.st_size, entry.st_mtime_ns)
    return found


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """The files added, removed or modified between two snapshots."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def wait_for_change(
    path: Path,
    before: Snapshot,
    *,
    poll_s: float = POLL_S,
    settle_s: float = SETTLE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Snapshot, list[str]]:
    """Block until the files under ``path`` change and then stay still for ``settle_s``."""
    while True:
        sleep(poll_s)
        now = snapshot(path)
        if now != before:
            break
    while True:
        sleep(settle_s)
        again = snapshot(path)
        if again == now:
            return now, changes(before, now)
        now = again


def watch(path: Path, check: Callable[[], int], console: Console) -> int:
    """Check ``path`` now and after every change, until Ctrl-C (which the caller reports)."""
    before = snapshot(path)
    check()
    while True:
        say(
            console,
            _("En attente de modifications dans {path} (Ctrl-C pour arrêter)…").format(path=path),
            "dim",
        )
        before, changed = wait_for_change(path, before)
        shown = ", ".join(changed[:5]) + (" …" if len(changed) > 5 else "")
        console.print()
        say(
            console,
            ngettext(
                "{n} fichier modifié ({files}) : nouvelle vérification.",
                "{n} fichiers modifiés ({files}) : nouvelle vérification.",
                len(changed),
            ).format(n=len(changed), files=shown),
            "bold",
        )
        check()
