"""Batches interrupted by the user or by the engine end cleanly, and a rerun finishes them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.docker_api import DockerAPI
from harness.errors import InfrastructureError
from harness.ownership import OWNER_LABEL, SESSION_LABEL, current_session, process_identity

from ..integration.conftest import ASSIGNMENTS, GRADER, ROOT, as_foreground_job, run_grader

pytestmark = pytest.mark.docker
CASES = Path(__file__).parent / "cases"
HOSTILE = str(ASSIGNMENTS / "hostile")


def _class(root: Path, cases: dict[str, str]) -> Path:
    batch = root / "batch"
    for name, case in cases.items():
        shutil.copytree(CASES / case, batch / name)
    return batch


def _start(batch: Path, out: Path, jobs: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GRADER, "grade", str(batch), "--out", str(out), "--jobs", str(jobs), "--assignment", HOSTILE],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=as_foreground_job,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the batch ended too early: {proc.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.3)


def _running(api: DockerAPI) -> int:
    return len(
        api.client.api.containers(
            filters={"label": f"{SESSION_LABEL}={current_session()}", "status": "running"}
        )
    )


def _status(out: Path, name: str) -> str:
    return str(json.loads((out / name / "result.json").read_text(encoding="utf-8"))["status"])


def test_ctrl_c_mid_batch_cleans_up_and_a_rerun_grades_only_the_rest(
    tmp_path: Path, docker_api: DockerAPI
) -> None:
    batch = _class(
        tmp_path, {"a-good": "good", "b-good": "good-twin", "c-bomb": "fork-bomb", "d-bomb": "fork-bomb"}
    )
    out = tmp_path / "out"
    proc = _start(batch, out, jobs=1)
    _wait_until(lambda: (out / "b-good" / "result.json").is_file() and _running(docker_api) > 0, proc)
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, output
    assert not docker_api.leftovers(session=current_session()), "Ctrl-C leaves nothing behind"
    again = run_grader("grade", str(batch), "--out", str(out), "--jobs", "2", "--assignment", HOSTILE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 remises déjà corrigées" in again.stdout, again.stdout
    assert "a-good:" not in again.stdout, "a finished submission is not graded again"
    assert {_status(out, n) for n in ("a-good", "b-good", "c-bomb", "d-bomb")} == {"graded"}


def _restart_daemon(version: str) -> None:
    """Start again the engine that was stopped (scripts/engine.sh for Engine 26, whose data root
    is its own; ensure-docker.sh starts the installed one)."""
    if version.startswith("26."):
        command = ["bash", str(ROOT / "scripts" / "engine.sh"), "26"]
    else:
        command = ["bash", str(ROOT / "scripts" / "ensure-docker.sh")]
    subprocess.run(command, check=True, timeout=180)


@pytest.mark.restarts_daemon
def test_the_daemon_stopping_mid_batch_is_an_error_never_a_zero(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        pytest.skip("stopping and starting the Docker daemon needs root and a local dockerd")
    api = DockerAPI()
    version = str(api.client.version().get("Version", ""))
    # Two apps that stay up without ever serving: the grader waits on both (ready_timeout_s) while
    # the daemon stops. (A fork bomb may exit at once, leaving no moment when both run.)
    batch = tmp_path / "batch"
    for name in ("a-idle", "b-idle"):
        app = batch / name / "app"
        app.mkdir(parents=True)
        (app / "Dockerfile").write_text(
            f'FROM debian:bookworm-slim\nCMD ["sleep", "600"]\nLABEL x="{name}"\n'
        )
        (app / "compose.yaml").write_text('services:\n  web:\n    build: .\n    ports: ["80:80"]\n')
    out = tmp_path / "out"
    proc = _start(batch, out, jobs=2)
    try:
        _wait_until(lambda: _running(api) >= 2, proc)
        subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=True)
        api.close()
        output, _ = proc.communicate(timeout=300)
    finally:
        _restart_daemon(version)
    assert proc.returncode == 2, output
    for name in ("a-idle", "b-idle"):
        result = json.loads((out / name / "result.json").read_text(encoding="utf-8"))
        assert result["status"] == "error", result
        assert [c["status"] for c in result["checks"]] == ["error"], "never silently a zero"
    again = run_grader("grade", str(batch), "--out", str(out), "--jobs", "2", "--assignment", HOSTILE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {_status(out, n) for n in ("a-idle", "b-idle")} == {"graded"}, "the next run regrades them"
    cleaned = run_grader("clean")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    api.close()  # its connections died with the daemon
    try:
        assert not api.leftovers(session=current_session())
    except InfrastructureError:
        pytest.fail("the daemon did not come back")
    finally:
        api.close()


def test_grader_clean_leaves_the_runs_of_live_graders_alone(tmp_path: Path, docker_api: DockerAPI) -> None:
    """Two batches in two terminals and `grader clean` in a third, run again and again: both
    batches finish intact."""
    batches = [
        (_class(tmp_path / name, {"a-good": "good", "b-good": "good-twin"}), tmp_path / name / "out")
        for name in ("one", "two")
    ]
    procs = [_start(batch, out, jobs=1) for batch, out in batches]
    try:
        for proc in procs:
            _wait_until(lambda proc=proc: _running_of(docker_api, proc.pid) > 0, proc)  # type: ignore[misc]
        # `grader clean` again and again while both batches run: it must never remove their objects.
        cleans = []
        while any(proc.poll() is None for proc in procs):
            clean = run_grader("clean")
            assert clean.returncode == 0, clean.stdout + clean.stderr
            cleans.append(clean.stdout)
        assert any("Laissé en place" in text for text in cleans), cleans
        for proc, (_, out) in zip(procs, batches, strict=True):
            output, _ = proc.communicate(timeout=600)
            assert proc.returncode == 0, output
            for name in ("a-good", "b-good"):
                result = json.loads((out / name / "result.json").read_text(encoding="utf-8"))
                assert (result["status"], result["score"]) == ("graded", 1), result
    finally:
        for proc in procs:  # a failure above must not leave a batch running into the next test
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                proc.communicate(timeout=180)
    assert not docker_api.leftovers(session=current_session())


def _running_of(api: DockerAPI, pid: int) -> int:
    """Running containers owned by the grader process ``pid``."""
    owner = process_identity(pid)
    found = api.client.api.containers(filters={"label": f"{OWNER_LABEL}={owner}", "status": "running"})
    return len(found)
