"""Parallel gradings never collide, and nothing is left behind however a grading ends."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness.assignment import load_assignment
from harness.docker_api import DockerAPI
from harness.ownership import SESSION_LABEL, current_session
from harness.runner import GradeOptions, Runner

from .conftest import ASSIGNMENTS, GRADER, REFERENCE, ROOT, as_foreground_job, run_grader

pytestmark = pytest.mark.docker

COLLIDING_COMPOSE = """\
services:
  web:
    build: .
    container_name: web
    ports: ["80:80"]
    networks: [cours2]
    volumes: ["data:/data"]
networks:
  cours2:
    name: cours2
volumes:
  data:
    name: shared-data
"""


def _colliding_submission(root: Path, name: str) -> Path:
    app = root / name / "app"
    shutil.copytree(REFERENCE / "siteweb", app)
    (app / "compose.yaml").write_text(COLLIDING_COMPOSE)
    (app / "files" / "index.html").write_text(f"<h1>La page de {name}</h1>\n", encoding="utf-8")
    return root / name


def _running_grader_containers(api: DockerAPI) -> int:
    return len(
        api.client.api.containers(
            filters={"label": f"{SESSION_LABEL}={current_session()}", "status": "running"}
        )
    )


def test_two_gradings_with_the_same_names_and_ports_run_together(
    tmp_path: Path, docker_api: DockerAPI
) -> None:
    subs = [_colliding_submission(tmp_path / "in", name) for name in ("ana", "ben")]
    runner = Runner(load_assignment(ASSIGNMENTS / "collide"), GradeOptions())
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _running_grader_containers(docker_api))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = runner.grade_many([(s, tmp_path / "out" / s.name) for s in subs], jobs=2)
    finally:
        stop.set()
        watcher.join()
    assert peak == 2, "both stacks were up at the same time"
    for result in results:
        assert result.status == "graded"
        assert [(c.id, c.status) for c in result.checks] == [("collide.serves_own_site", "passed")], result
    assert len({r.run_id for r in results}) == 2
    assert not docker_api.leftovers(session=current_session())


def _wait_for_running_container(api: DockerAPI, proc: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _running_grader_containers(api) == 0:
        assert proc.poll() is None, f"the grader ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no container started"
        time.sleep(0.3)


def _start_slow_grading(out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GRADER, "check", str(REFERENCE), "--assignment", str(ASSIGNMENTS / "slow"), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
        preexec_fn=as_foreground_job,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_ctrl_c_mid_grading_removes_everything(tmp_path: Path, docker_api: DockerAPI) -> None:
    proc = _start_slow_grading(tmp_path / "out")
    _wait_for_running_container(docker_api, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, output
    assert "Interrompu" in output
    assert not docker_api.leftovers(session=current_session())


def test_a_grading_over_its_time_limit_is_stopped_cleaned_and_marked_error(
    tmp_path: Path, docker_api: DockerAPI
) -> None:
    assignment = tmp_path / "slow"  # the slow lab with a 20 s limit (the others wait for its stack)
    shutil.copytree(ASSIGNMENTS / "slow", assignment)
    config = assignment / "assignment.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("timeout_s: 60", "timeout_s: 20"))
    done = run_grader(
        "check", str(REFERENCE), "--assignment", str(assignment), "--out", str(tmp_path / "out"), timeout=400
    )
    assert done.returncode == 2, done.stdout + done.stderr
    result = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert result["status"] == "error", "our own timeout is never a zero"
    assert "20 secondes" in result["checks"][0]["feedback"]
    assert not docker_api.leftovers(session=current_session())


def test_grader_clean_removes_what_a_killed_grading_left(tmp_path: Path, docker_api: DockerAPI) -> None:
    proc = _start_slow_grading(tmp_path / "out")
    _wait_for_running_container(docker_api, proc)
    # SIGKILL the grader and its grading process: no cleanup code can run.
    subprocess.run(["pkill", "-KILL", "-f", str(ASSIGNMENTS / "slow")], check=False)
    proc.communicate(timeout=30)
    assert docker_api.leftovers(session=current_session()), "a killed grading leaves its containers"
    done = run_grader("clean")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 conteneurs" in done.stdout
    assert not docker_api.leftovers(session=current_session())
