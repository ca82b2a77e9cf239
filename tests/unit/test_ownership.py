"""Run ownership: a run is orphaned only when the grader process that owns it is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from harness.docker_api import DockerAPI
from harness.ownership import OWNER_ENV, SESSION_ENV, owner_alive, process_identity, run_labels


def test_this_process_is_alive_and_a_finished_one_is_not() -> None:
    assert owner_alive(process_identity())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    assert not owner_alive(identity)


def test_a_reused_pid_with_another_start_time_is_not_the_owner() -> None:
    host, pid, start = process_identity().split(":")
    assert start, "the start time is read from /proc"
    assert not owner_alive(f"{host}:{pid}:{int(start) + 1}")


def test_an_owner_on_another_host_is_kept_and_no_owner_is_orphaned() -> None:
    assert owner_alive(f"not-{socket.gethostname()}:1:1")
    assert not owner_alive("")
    assert not owner_alive("garbage")


def test_labels_carry_the_run_the_owner_and_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OWNER_ENV, "h:1:2")
    monkeypatch.setenv(SESSION_ENV, "s1")
    assert run_labels("abc") == {"grader.run": "abc", "grader.owner": "h:1:2", "grader.session": "s1"}
    monkeypatch.delenv(OWNER_ENV)
    monkeypatch.delenv(SESSION_ENV)
    labels = run_labels("abc")
    assert labels["grader.owner"] == process_identity(os.getpid())
    assert "grader.session" not in labels


def test_listing_runs_never_inspects_images_another_grading_may_be_removing() -> None:
    """The SDK's images.list() inspects each listed image: one removed in between (by a grading
    finishing at that moment) failed `grader clean`. The engine's own listing carries the labels."""

    class _API:
        def containers(self, **_: object) -> list[dict[str, object]]:
            return []

        def images(self, **_: object) -> list[dict[str, object]]:
            return [{"Id": "sha256:gone", "Labels": {"grader.run": "r1", "grader.owner": ""}}]

        def inspect_image(self, _image: str) -> dict[str, object]:
            raise AssertionError("inspected: the image may be gone by now")

    class _Empty:
        def list(self, **_: object) -> list[object]:
            return []

    class _Images:
        def list(self, **_: object) -> list[object]:
            raise AssertionError("images.list() inspects every image")

    client = type(
        "Client", (), {"api": _API(), "networks": _Empty(), "volumes": _Empty(), "images": _Images()}
    )()
    docker = DockerAPI(client)
    assert docker.run_owners() == {"r1": ""}
    assert docker.leftovers("r1").images == ["sha256:gone"]
