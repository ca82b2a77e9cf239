"""One cgroup per grading: a memory and pids budget that all of its containers share.

Per-container limits alone do not bound a grading: a project with many services (or replicas)
multiplies them. Each grading gets a cgroup ``/grader/g<run>`` with its own ``memory`` and
``pids`` limits, and every container it starts is placed under it (Compose's ``cgroup_parent``,
the SDK's ``cgroup_parent``): the kernel then bounds all of them together.

This needs a local Linux engine using the ``cgroupfs`` driver, and write access to
``/sys/fs/cgroup`` (root). Elsewhere (Docker Desktop, the ``systemd`` driver, a remote engine)
:func:`create` returns ``None`` and the per-container limits are the only ones; the grading log
says so.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from .ownership import pid_alive

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The parent of every grading's cgroup, shared by concurrent gradings and never removed.
PARENT = "grader"


@dataclass(frozen=True)
class GradingCgroup:
    """The cgroup of one grading (in every hierarchy where it exists).

    Its name holds the pid of the grading process that made it: ``grader clean`` tells an orphan
    (its process gone) from a grading in progress, even before any container carries a label.
    """

    run_id: str
    pid: int
    root: Path = CGROUP_ROOT

    @property
    def name(self) -> str:
        return f"g{self.run_id}-{self.pid}"

    @classmethod
    def parse(cls, name: str, root: Path = CGROUP_ROOT) -> GradingCgroup:
        """The cgroup named ``name`` (``g<run>-<pid>``, as :attr:`name` writes it)."""
        run, _, pid = name[1:].rpartition("-")
        if not (name.startswith("g") and run and pid.isdigit()):
            raise ValueError(f"not the name of a grading's cgroup: {name!r}")
        return cls(run, int(pid), root)

    @property
    def parent(self) -> str:
        """The value of ``cgroup_parent`` for the grading's containers."""
        return f"/{PARENT}/{self.name}"

    def directories(self) -> list[Path]:
        """The grading's folder in each hierarchy (v1: one a controller; v2: one)."""
        relative = Path(PARENT) / self.name
        if _unified(self.root):
            return [self.root / relative]
        return [hierarchy / relative for hierarchy in sorted(self.root.iterdir()) if hierarchy.is_dir()]

    def remove(self) -> None:
        """Remove the grading's folders (the engine removes its containers' sub-folders first)."""
        for directory in self.directories():
            _remove_tree(directory)


def create(run_id: str, memory_bytes: int, pids: int, root: Path = CGROUP_ROOT) -> GradingCgroup | None:
    """Create the grading's cgroup with its limits; ``None`` where cgroups cannot be managed here."""
    if os.name != "posix" or not root.is_dir():
        return None
    cgroup = GradingCgroup(run_id, os.getpid(), root)
    made: list[Path] = []
    try:
        if _unified(root):
            _create_v2(root, cgroup.name, memory_bytes, pids, made)
        else:
            _create_v1(root, cgroup.name, memory_bytes, pids, made)
    except OSError:
        for directory in reversed(made):  # only what this call made: never another grading's
            _remove_tree(directory)
        return None
    return cgroup


def _unified(root: Path) -> bool:
    """cgroup v2 alone (a v1 host may also mount v2 at ``unified``, which holds no controllers)."""
    return (root / "cgroup.controllers").is_file()


def _make(directory: Path, made: list[Path]) -> Path:
    directory.parent.mkdir(exist_ok=True)
    directory.mkdir()  # a grading's folder is new, or this is not our grading's
    made.append(directory)
    return directory


def _create_v1(root: Path, name: str, memory_bytes: int, pids: int, made: list[Path]) -> None:
    memory = _make(root / "memory" / PARENT / name, made)
    pids_dir = _make(root / "pids" / PARENT / name, made)
    (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
    # Memory plus swap at the same limit: no swap (absent when swap accounting is off).
    swap = memory / "memory.memsw.limit_in_bytes"
    if swap.exists():
        swap.write_text(str(memory_bytes))
    (pids_dir / "pids.max").write_text(str(pids))


def _create_v2(root: Path, name: str, memory_bytes: int, pids: int, made: list[Path]) -> None:
    parent = root / PARENT
    parent.mkdir(exist_ok=True)
    for level in (root, parent):  # the controllers must be handed down to the grading's level
        (level / "cgroup.subtree_control").write_text("+memory +pids")
    directory = _make(parent / name, made)
    (directory / "memory.max").write_text(str(memory_bytes))
    with contextlib.suppress(FileNotFoundError):
        (directory / "memory.swap.max").write_text("0")
    (directory / "pids.max").write_text(str(pids))


def _remove_tree(directory: Path) -> None:
    """rmdir a cgroup folder and its sub-folders, deepest first (cgroup files cannot be unlinked)."""
    if not directory.is_dir():
        return
    for sub in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        directory.rmdir()


def oom_kills(parent: str, root: Path = CGROUP_ROOT) -> int:
    """How many processes the kernel killed for memory in the cgroup ``parent`` (a grading's), 0
    when it cannot tell. Docker marks a container OOM-killed only for its own limit, not for the
    limit of a cgroup above it."""
    relative = parent.strip("/")
    for events, key in (
        (root / relative / "memory.events", "oom_kill"),
        (root / "memory" / relative / "memory.oom_control", "oom_kill"),
    ):
        try:
            lines = events.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            name, _, count = line.partition(" ")
            if name == key and count.strip().isdigit():
                return int(count)
    return 0


def orphaned_cgroups(root: Path = CGROUP_ROOT) -> list[GradingCgroup]:
    """Grading cgroups whose grading process is gone (for ``grader clean``)."""
    if not root.is_dir():
        return []
    hierarchies = [root] if _unified(root) else [h for h in root.iterdir() if h.is_dir()]
    found: set[tuple[str, int]] = set()
    for hierarchy in hierarchies:
        parent = hierarchy / PARENT
        for entry in parent.iterdir() if parent.is_dir() else ():
            if entry.is_dir():
                with contextlib.suppress(ValueError):
                    cgroup = GradingCgroup.parse(entry.name, root)
                    found.add((cgroup.run_id, cgroup.pid))
    return [GradingCgroup(run, pid, root) for run, pid in sorted(found) if not pid_alive(pid)]
