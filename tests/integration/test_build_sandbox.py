"""Builds in the sandbox, for real: two gradings' cache mounts with one id stay apart, and
each grading's cache records are removed after it, and only them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.buildcache import build_cache_runs, prepare_builds, remove_build_caches
from harness.compose_cli import ComposeCLI
from harness.docker_api import DockerAPI
from harness.errors import PolicyViolation
from harness.ownership import run_labels

pytestmark = [pytest.mark.docker, pytest.mark.every_engine]

#: Fails when the cache mount holds anything: another build wrote it.
DOCKERFILE = """FROM debian:bookworm-slim
ARG TOKEN
RUN --mount=type=cache,id={cache_id},target=/cache \\
    if [ -n "$(ls -A /cache)" ]; then echo "seen: $(ls -A /cache)"; exit 1; fi; \\
    echo "$TOKEN" > "/cache/$TOKEN"
"""


def _model(context: Path, run_id: str) -> dict[str, Any]:
    project = f"g{run_id}-cache"
    return {
        "name": project,
        "services": {
            "web": {
                "build": {
                    "context": str(context),
                    "dockerfile": "Dockerfile",
                    "labels": run_labels(run_id),
                    "args": {"TOKEN": run_id},
                },
                "image": f"{project}-web",
            }
        },
    }


def _build(model: dict[str, Any], workdir: Path) -> tuple[int, str]:
    file = workdir / f"{model['name']}.compose.json"
    file.write_text(json.dumps(model), encoding="utf-8")
    result = ComposeCLI().run(
        ["-f", str(file), "-p", str(model["name"]), "--progress", "plain", "build"], timeout=120, cwd=workdir
    )
    return result.returncode, result.output


def _records_mentioning(api: DockerAPI, text: str) -> list[str]:
    return [
        str(record["ID"])
        for record in api.client.api.df().get("BuildCache") or []
        if record.get("Type") == "exec.cachemount" and text in str(record.get("Description"))
    ]


@pytest.fixture
def runs(docker_api: DockerAPI) -> Iterator[list[str]]:
    """Two run ids; whatever they leave (images, cache records) is removed after the test."""
    made = [secrets.token_hex(5), secrets.token_hex(5)]
    yield made
    for run_id in made:
        docker_api.sweep(run_id)
        remove_build_caches(docker_api, run_id)


def test_two_gradings_do_not_see_each_others_cache_and_each_removes_only_its_own(
    tmp_path: Path, docker_api: DockerAPI, runs: list[str]
) -> None:
    context = tmp_path / "submission"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE.format(cache_id=f"shared-{runs[0]}"), encoding="utf-8")
    for run_id in runs:
        model = _model(context, run_id)
        prepare_builds(model, context, run_id, tmp_path)
        code, output = _build(model, tmp_path)
        assert code == 0, output  # "seen: ..." would mean the other grading's file was there
    assert "shared" in (context / "Dockerfile").read_text(), "the submission's own file is left as written"

    found = build_cache_runs(docker_api)
    assert found.get(runs[0]), found
    assert found.get(runs[1]), found
    removed = remove_build_caches(docker_api, runs[0])
    assert sorted(removed) == sorted(found[runs[0]])
    after = build_cache_runs(docker_api)
    assert runs[0] not in after, "the grading's records are gone"
    assert after.get(runs[1]) == found[runs[1]], "another grading's records are untouched"
    remove_build_caches(docker_api, runs[1])
    assert runs[1] not in build_cache_runs(docker_api)


def test_without_the_namespace_the_second_build_reads_the_first_ones_file(
    tmp_path: Path, docker_api: DockerAPI, runs: list[str]
) -> None:
    """The attack the test above defends against, shown to work on this engine."""
    context = tmp_path / "submission"
    context.mkdir()
    shared = f"shared-{runs[0]}"
    (context / "Dockerfile").write_text(DOCKERFILE.format(cache_id=shared), encoding="utf-8")
    try:
        outcomes = [_build(_model(context, run_id), tmp_path) for run_id in runs]
        assert outcomes[0][0] == 0, outcomes[0][1]
        assert outcomes[1][0] != 0, outcomes[1][1]
        assert f"seen: {runs[0]}" in outcomes[1][1], outcomes[1][1]
    finally:
        for record_id in _records_mentioning(docker_api, "ls -A /cache)"):
            docker_api.client.api.prune_builds(filters={"id": [f"^{record_id}$"]})


def test_a_base_image_from_another_registry_is_refused_before_building(tmp_path: Path) -> None:
    context = tmp_path / "submission"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM debian:bookworm-slim\nFROM evil.example.com/x AS two\n")
    with pytest.raises(PolicyViolation, match=r"evil\.example\.com/x") as refused:
        prepare_builds(_model(context, "0"), context, "0", tmp_path)
    assert refused.value.locations == ("Dockerfile:2",)
