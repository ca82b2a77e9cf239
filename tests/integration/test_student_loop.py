"""The student's loop on a real sample: a re-check runs only the part that changed, --watch checks
again on save, and Ctrl-C in the middle of a watched check leaves nothing behind."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness.docker_api import DockerAPI
from harness.ownership import current_session

from .conftest import GRADER, ROOT, SUBMISSIONS, as_foreground_job, run_grader

pytestmark = pytest.mark.docker
#: Two parts, cheap to build and start: enough to see one rerun and the other reused.
ONLY = ["--only", "siteweb.builds", "--only", "siteweb.serves_site", "--only", "compteur.builds"]
#: Two parts that each start a container.
TWO_PARTS = ["--only", "siteweb.serves_site", "--only", "compteur.counter_api"]


@pytest.fixture
def alice(tmp_path: Path) -> Path:
    copy = tmp_path / "alice"
    shutil.copytree(SUBMISSIONS / "alice", copy, symlinks=True)
    return copy


def _edit_page(submission: Path, text: str) -> None:
    page = submission / "siteweb" / "files" / "index.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace("</body>", f"<p>{text}</p></body>"), encoding="utf-8"
    )


def test_a_recheck_after_an_edit_runs_only_the_changed_part(alice: Path, tmp_path: Path) -> None:
    env = {"GRADER_CACHE_DIR": str(tmp_path / "cache")}
    first = run_grader("check", str(alice), "--assignment", "cours2", *ONLY, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "inchangé depuis" not in first.stdout
    _edit_page(alice, "modifiée")
    second = run_grader("check", str(alice), "--assignment", "cours2", *ONLY, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = second.stdout.splitlines()
    compteur = next(i for i, line in enumerate(lines) if "compteur.builds" in line)
    assert "inchangé depuis la vérification de" in lines[compteur + 1], second.stdout
    assert all("inchangé" not in line for line in lines[:compteur]), "siteweb changed: it ran again"
    assert "1 vérification reprise d'une vérification précédente" in second.stdout
    fresh = run_grader("check", str(alice), "--assignment", "cours2", *ONLY, "--fresh", env=env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "inchangé" not in fresh.stdout


def _reader(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)


def _wait_for(lines: queue.Queue[str], seen: list[str], text: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        try:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"never printed {text!r}:\n{''.join(seen)}") from None


def test_watch_checks_again_on_save_and_ctrl_c_mid_check_leaves_nothing(
    alice: Path, tmp_path: Path, docker_api: DockerAPI
) -> None:
    proc = subprocess.Popen(
        [*GRADER, "check", str(alice), "--assignment", "cours2", *ONLY, "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=as_foreground_job,
        env={**os.environ, "PYTHONPATH": str(ROOT), "GRADER_CACHE_DIR": str(tmp_path / "cache")},
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=_reader, args=(proc, lines), daemon=True)
    reader.start()
    try:
        _wait_for(lines, seen, "En attente de modifications")
        _edit_page(alice, "première")
        _wait_for(lines, seen, "1 fichier modifié (siteweb/files/index.html) : nouvelle vérification.")
        _wait_for(lines, seen, "inchangé depuis la vérification de")  # compteur, reused
        _wait_for(lines, seen, "1 vérification reprise")
        seen.clear()
        _wait_for(lines, seen, "En attente de modifications")
        _edit_page(alice, "seconde")
        _wait_for(lines, seen, "nouvelle vérification")
        deadline = time.monotonic() + 120  # Ctrl-C once the check has something running
        while not docker_api.leftovers(session=current_session()).containers:
            assert time.monotonic() < deadline, "the second check never started a container"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=180) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=30)  # it reads to the end of the output, then the pipe can close
        assert proc.stdout is not None
        proc.stdout.close()
    assert not docker_api.leftovers(session=current_session()), "Ctrl-C left something behind"


def test_parts_graded_at_the_same_time_share_the_gradings_one_cgroup(
    alice: Path, docker_api: DockerAPI
) -> None:
    proc = subprocess.Popen(
        [*GRADER, "check", str(alice), "--assignment", "cours2", *TWO_PARTS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    parents: dict[str, str] = {}  # compose project -> the cgroup its containers were placed in
    try:
        while proc.poll() is None:
            for container_id in docker_api.leftovers(session=current_session()).containers:
                try:
                    attrs = docker_api.client.api.inspect_container(container_id)
                except Exception:  # removed meanwhile
                    continue
                project = attrs["Config"]["Labels"].get("com.docker.compose.project", "")
                parents[project] = attrs["HostConfig"]["CgroupParent"]
            time.sleep(0.2)
        output = proc.communicate()[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert len(parents) == 2, f"one project a part, each in its own process: {parents}"
    assert len(set(parents.values())) == 1, f"one budget for the whole grading: {parents}"
    assert next(iter(parents.values())).endswith(f"-{proc.pid}"), "the runner made it (its pid)"
