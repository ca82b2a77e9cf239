"""The first ``up`` of a project starts a service that depends on nothing as soon as its image is
built, while the other images still build; a build's failure or a service with dependencies gets
nothing early. Compose and the engine are fakes here: the order of calls is what is tested."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.assignment import Limits
from harness.compose import ComposeProject
from harness.compose_cli import CommandResult
from harness.docker_api import ContainerState
from harness.errors import BuildFailed


class _Engine:
    """Images appear when the fake build makes them; started services run."""

    def __init__(self) -> None:
        self.images: set[str] = set()
        self.started: set[str] = set()

    def image_attrs(self, reference: str) -> dict[str, Any] | None:
        return {} if reference in self.images else None

    def project_containers(self, project: str) -> list[ContainerState]:
        return [ContainerState(s, s, s, "running", 0, False, "", 0, {}) for s in sorted(self.started)]

    def ping(self) -> None:
        pass


class _Compose:
    """`build` makes db's image at once and api's a second later (a compile), or fails."""

    def __init__(self, engine: _Engine, *, fails: bool = False) -> None:
        self.engine = engine
        self.fails = fails
        self.calls: list[tuple[str, ...]] = []
        self.during_build: list[tuple[str, ...]] = []
        self._building = threading.Event()

    def run(self, args: Sequence[str], *, timeout: float, cwd: Path | None = None, **_: Any) -> CommandResult:
        verb = tuple(args[list(args).index("--project-directory") + 2 :])
        self.calls.append(verb)
        if self._building.is_set():
            self.during_build.append(verb)
        if verb[0] == "build":
            self._building.set()
            self.engine.images.add("p-db")
            time.sleep(1.0)
            self._building.clear()
            if self.fails:
                return CommandResult(1, "ERROR: go build failed")
            self.engine.images.add("p-api")
        elif verb[0] == "up":
            named = [word for word in verb[1:] if not word.startswith("-")]
            self.engine.started.update(named or ["db", "api"])
        return CommandResult(0, "")


def _project(tmp_path: Path, compose: _Compose, engine: _Engine, api: dict[str, Any]) -> ComposeProject:
    for name in ("db", "api"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    model = {
        "services": {
            "db": {"build": {"context": str(tmp_path / "db"), "dockerfile": "Dockerfile"}},
            "api": {"build": {"context": str(tmp_path / "api"), "dockerfile": "Dockerfile"}, **api},
        }
    }
    return ComposeProject(
        name="p",
        source_model=model,
        root=tmp_path,
        run_id="abc123",
        limits=Limits(),
        workdir=tmp_path / "work",
        cli=compose,  # type: ignore[arg-type]
        docker=engine,  # type: ignore[arg-type]
    )


def test_a_service_with_no_dependency_starts_while_the_others_build(tmp_path: Path) -> None:
    engine = _Engine()
    compose = _Compose(engine)
    project = _project(tmp_path, compose, engine, {"depends_on": {"db": {"condition": "service_healthy"}}})
    project.up()
    assert ("up", "-d", "--no-build", "--no-deps", "db") in compose.during_build
    assert not any("api" in call for call in compose.during_build), "api waits for db: never early"
    assert compose.calls[-1][:3] == ("up", "-d", "--no-build"), "then up as always, for every service"


def test_a_failed_build_still_fails_the_start(tmp_path: Path) -> None:
    engine = _Engine()
    compose = _Compose(engine, fails=True)
    project = _project(tmp_path, compose, engine, {"depends_on": {"db": {"condition": "service_healthy"}}})
    with pytest.raises(BuildFailed):
        project.up()
    early = ("up", "-d", "--no-build", "--no-deps", "db")
    assert [call for call in compose.calls if call[0] == "up"] == [early], "no start after a failed build"


def test_nothing_starts_early_once_the_images_are_built(tmp_path: Path) -> None:
    engine = _Engine()
    compose = _Compose(engine)
    project = _project(tmp_path, compose, engine, {})
    project.build()
    project.up()
    assert compose.during_build == []
    assert [call[0] for call in compose.calls] == ["build", "up"]


@pytest.mark.parametrize(
    "shares",
    [{"volumes_from": ["api"]}, {"links": ["api"]}, {"network_mode": "service:api"}, {"pid": "service:api"}],
)
def test_a_service_that_shares_with_another_is_not_started_early(
    tmp_path: Path, shares: dict[str, Any]
) -> None:
    engine = _Engine()
    compose = _Compose(engine)
    project = _project(tmp_path, compose, engine, {})
    project.model["services"]["db"].update(shares)
    project.up()
    assert not any("db" in call for call in compose.during_build), shares
