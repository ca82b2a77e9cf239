"""The grading's cgroup: created with its limits on cgroup v1 and v2 trees (a folder stands in for
/sys/fs/cgroup), placed under one shared parent, and found again by `grader clean` once orphaned."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import cgroups

ME = f"gabc-{os.getpid()}"


def _v1(root: Path) -> Path:
    for controller in ("memory", "pids", "cpu"):
        (root / controller).mkdir(parents=True)
    return root


def _v2(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory pids")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v1_gets_a_memory_limit_without_swap_and_a_pids_limit(tmp_path: Path) -> None:
    root = _v1(tmp_path / "v1")
    made = cgroups.create("abc", 128 * 2**20, 256, root=root)
    assert made is not None
    assert made.parent == f"/grader/{ME}"
    assert (root / "memory" / "grader" / ME / "memory.limit_in_bytes").read_text() == str(128 * 2**20)
    assert (root / "pids" / "grader" / ME / "pids.max").read_text() == "256"
    assert root / "cpu" / "grader" / ME in made.directories(), "every hierarchy is cleaned afterwards"


def test_v2_hands_the_controllers_down_and_sets_the_limits(tmp_path: Path) -> None:
    root = _v2(tmp_path / "v2")
    (root / "grader").mkdir()
    (root / "grader" / "cgroup.subtree_control").write_text("")
    made = cgroups.create("abc", 2**30, 100, root=root)
    assert made is not None
    grading = root / "grader" / ME
    assert (grading / "memory.max").read_text() == str(2**30)
    assert (grading / "pids.max").read_text() == "100"
    assert "+memory" in (root / "cgroup.subtree_control").read_text()
    assert made.directories() == [grading]


def test_no_cgroup_where_the_tree_cannot_be_written(tmp_path: Path) -> None:
    assert cgroups.create("abc", 2**30, 100, root=tmp_path / "missing") is None
    root = _v1(tmp_path / "v1")
    (root / "pids" / "grader" / ME).mkdir(parents=True)  # already there: another grading's
    assert cgroups.create("abc", 2**30, 100, root=root) is None
    assert (root / "pids" / "grader" / ME).is_dir(), "what it did not make is left alone"
    assert not (root / "memory" / "grader" / ME).exists(), "what it made is undone"


def test_orphans_are_the_cgroups_whose_grading_process_is_gone(tmp_path: Path) -> None:
    root = _v1(tmp_path / "v1")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for name in (f"gaaa-{gone.pid}", f"gbbb-{os.getpid()}"):
        (root / "pids" / "grader" / name).mkdir(parents=True)
    assert [c.name for c in cgroups.orphaned_cgroups(root=root)] == [f"gaaa-{gone.pid}"]


def test_oom_kills_are_read_from_either_hierarchy(tmp_path: Path) -> None:
    v1 = _v1(tmp_path / "v1")
    (v1 / "memory" / "grader" / "gx-1").mkdir(parents=True)
    (v1 / "memory" / "grader" / "gx-1" / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"
    )
    assert cgroups.oom_kills("/grader/gx-1", root=v1) == 2
    v2 = _v2(tmp_path / "v2")
    (v2 / "grader" / "gx-1").mkdir(parents=True)
    (v2 / "grader" / "gx-1" / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cgroups.oom_kills("/grader/gx-1", root=v2) == 1
    assert cgroups.oom_kills("/grader/absent", root=v2) == 0
