"""What several unit test modules share: fakes and generated inputs (no test lives here)."""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness.docker_api import Leftovers

#: git with an identity and a branch name, whatever the machine's configuration.
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]

#: The fake assignment (tests/assignments/fake): checks that need no Docker.
FAKE = Path(__file__).parent.parent / "assignments" / "fake"


class FakeDocker:
    """Stands in for the engine: records sweeps, finds nothing, manages no cgroup."""

    manages_local_cgroups = False

    def __init__(self) -> None:
        self.swept: list[str | None] = []

    def sweep(self, run_id: str | None = None) -> Leftovers:
        self.swept.append(run_id)
        return Leftovers([], [], [], [])

    def build_cache_records(self) -> list[dict[str, str]]:
        return []


def directory_bomb(path: Path, entries: int, declared: int | None = None, name: bytes = b"a") -> Path:
    """A zip whose central directory lists ``entries`` entries, all pointing at one empty local
    header, closed by zip64 end records declaring ``declared`` entries (``entries`` by default)."""
    local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
    record = struct.pack(
        "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
    )
    directory = (record + name) * entries
    count = entries if declared is None else declared
    end64 = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), len(local)
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(local) + len(directory), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(local + directory + end64 + locator + end)
    return path


ROOT = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    """The project's wheel, built offline into ``out`` (skips when the build backend is missing)."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip(
            "hatchling (the build backend) is not installed, and building offline needs it: pip install -e '.[dev]'"
        )
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("grader-*.whl")
    return found


def nest_deep(root: Path, depth: int) -> None:
    """A chain ``root/d/d/...`` ``depth`` folders deep, made through descriptors (the paths grow
    past what a path argument may hold)."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def remove_deep(root: Path) -> None:
    """Remove the chain ``root/d/d/...`` deeper than the recursion limit, which pytest's own
    (recursive) clean-up of its temporary folders cannot do."""
    deepest = root
    while (deepest / "d").is_dir():
        deepest = deepest / "d"
    while deepest != root:
        deepest.rmdir()
        deepest = deepest.parent
