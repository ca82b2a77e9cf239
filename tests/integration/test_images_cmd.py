"""`grader images` and the images prepared once per batch, on the real engine.

The acceptance of a machine that cannot pull: a submission naming an image that is absent and
whose registry is out of reach (``FROM httpd:2.4``: not a stand-in, and no registry answers
here) ends `error`, out of the Moodle worksheet, never a zero; once `grader images load` has
loaded an archive holding it, the same batch run again grades it. The archive is made here by
`grader images save` from an ``httpd:2.4`` built on this engine, labelled with this test's
token so that exactly it is removed afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from harness.docker_api import DockerAPI
from harness.ownership import SESSION_LABEL, current_session

from .conftest import ASSIGNMENTS, run_grader

pytestmark = pytest.mark.docker
HOSTILE = str(ASSIGNMENTS / "hostile")
HTTPD = "httpd:2.4"
TEST_LABEL = "grader.test.images"
#: Built on the local nginx (pulled or setup's stand-in): it serves / on port 80 as the hostile check asks.
HTTPD_DOCKERFILE = "FROM nginx:latest\nLABEL org.opencontainers.image.description=test-httpd\n"


@pytest.fixture
def token(docker_api: DockerAPI) -> Iterator[str]:
    """A label value for this test's images; every image carrying it is removed afterwards."""
    value = secrets.token_hex(4)
    yield value
    for image in docker_api.client.images.list(filters={"label": f"{TEST_LABEL}={value}"}):
        docker_api.client.api.remove_image(image.id, force=True)


def _labels(token: str) -> dict[str, str]:
    return {TEST_LABEL: token, SESSION_LABEL: current_session()}


@pytest.fixture
def local_httpd(docker_api: DockerAPI, token: str) -> str:
    """``httpd:2.4`` built here (the official image cannot be pulled on this machine)."""
    if docker_api.image_attrs(HTTPD) is not None:
        pytest.skip(f"{HTTPD} is already on this engine and is not this test's to remove")
    if docker_api.image_attrs("nginx:latest") is None:
        pytest.skip("nginx:latest is missing: scripts/setup.sh pulls it or builds its stand-in")
    docker_api.client.images.build(
        fileobj=io.BytesIO(HTTPD_DOCKERFILE.encode()), tag=HTTPD, labels=_labels(token), rm=True
    )
    return HTTPD


def _images_assignment(root: Path, *images: str) -> Path:
    root.mkdir(parents=True)
    (root / "assignment.yaml").write_text(f"id: images-test\nimages: [{', '.join(images)}]\n")
    return root


def _site(root: Path, base: str) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text(f"FROM {base}\n")
    (root / "app" / "compose.yaml").write_text("services:\n  web:\n    build: .\n    ports: ['80:80']\n")
    return root


def _result(out: Path, name: str) -> dict[str, object]:
    result: dict[str, object] = json.loads((out / name / "result.json").read_text(encoding="utf-8"))
    return result


def _moodle(out: Path) -> dict[str, str]:
    with (out / "gradebook-moodle.csv").open(encoding="utf-8") as handle:
        return {row["Full name"]: row["Grade"] for row in csv.DictReader(handle)}


def test_an_unpullable_image_is_an_error_never_a_zero_and_graded_once_loaded(
    tmp_path: Path, docker_api: DockerAPI, local_httpd: str
) -> None:
    archive = tmp_path / "images.tar"
    assignment = _images_assignment(tmp_path / "assignment", local_httpd)
    saved = run_grader("images", "save", str(assignment), str(archive))
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert "Archive écrite" in saved.stdout
    docker_api.remove_image(local_httpd)
    assert docker_api.image_attrs(local_httpd) is None
    listed = run_grader("images", "list", str(assignment))
    assert listed.returncode == 0, listed.stderr
    assert f"{HTTPD}  absente" in listed.stdout

    klass, out = tmp_path / "class", tmp_path / "out"
    _site(klass / "apache", HTTPD)
    _site(klass / "nginx-fan", "nginx:latest")
    grade = ["grade", str(klass), "--out", str(out), "--assignment", HOSTILE, "--jobs", "2"]
    first = run_grader(*grade)
    assert first.returncode == 2, first.stdout + first.stderr
    assert f"{HTTPD} : injoignable" in first.stderr
    apache = _result(out, "apache")
    assert apache["status"] == "error", apache
    (check,) = cast(list[dict[str, Any]], apache["checks"])
    assert check["status"] == "error"
    assert f"« {HTTPD} »" in check["feedback"]
    assert "grader images load" in check["feedback"]
    assert _result(out, "nginx-fan")["status"] == "graded"  # only the submission that needs the image
    assert _moodle(out) == {"nginx-fan": "1"}  # error is left out of the worksheet: never a zero

    loaded = run_grader("images", "load", str(archive))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert f"Chargée : {HTTPD}" in loaded.stdout
    again = run_grader(*grade)
    assert again.returncode == 0, again.stdout + again.stderr
    apache = _result(out, "apache")
    assert apache["status"] == "graded", apache
    assert apache["score"] == 1, apache
    assert _moodle(out) == {"apache": "1", "nginx-fan": "1"}


def test_a_registry_mirror_serves_docker_hub_images_under_their_own_name(
    tmp_path: Path, docker_api: DockerAPI, registry: str, token: str
) -> None:
    name = f"grader-mirror-probe-{token}:1"
    mirrored = f"{registry}/library/{name}"
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("probe.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"probe"))
    repository, _colon, tag = mirrored.rpartition(":")
    docker_api.client.api.import_image_from_data(
        layer.getvalue(), repository=repository, tag=tag, changes=[f"LABEL {TEST_LABEL}={token}"]
    )
    for line in docker_api.client.images.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in line, line
    docker_api.remove_image(mirrored)
    assignment = _images_assignment(tmp_path / "assignment", name)

    without = run_grader("images", "pull", str(assignment))
    assert without.returncode == 2, without.stdout + without.stderr  # Docker Hub is out of reach here
    assert f"{name}  registre injoignable" in without.stdout
    pulled = run_grader("images", "pull", str(assignment), env={"GRADER_REGISTRY_MIRROR": registry})
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert f"{name}  téléchargée" in pulled.stdout
    assert docker_api.image_attrs(name) is not None
    assert docker_api.image_attrs(mirrored) is None  # the mirror's name is not left behind


def test_cours2_lists_the_images_of_the_course() -> None:
    listed = run_grader("images", "list", "cours2")
    assert listed.returncode == 0, listed.stderr
    for image in ("debian:bookworm-slim", "nginx:latest", "mysql:8", "golang:1.19"):
        assert image in listed.stdout
    assert "Attention" not in listed.stderr  # the reference names no image the list forgets
