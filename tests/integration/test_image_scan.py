"""Reading an image: its layer folders on the engine and ``docker save`` give the same answer on a
real build, and the leak check finds a password a build copied into a layer without blaming the
image the submission starts from."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.docker_api import DockerAPI
from harness.images import ImageScan, scan_layer_folders, scan_saved_image
from harness.ownership import run_labels

from .conftest import run_grader

pytestmark = pytest.mark.docker

BASE = "debian:bookworm-slim"
DOCKERFILE = f"""\
FROM {BASE}
ARG JETON
COPY pw.txt /opt/app/pw.txt
RUN echo "$JETON" > /dev/null \\
 && ln -s /etc/shadow /opt/app/lien && mkfifo /opt/app/tube && mknod /opt/app/disque b 8 0 \\
 && rm /etc/motd
"""
NEEDLES = [b"Sup3r-S3cret-42", b"Cle-De-Config-77", b"GNU/Linux"]


@pytest.fixture
def built(tmp_path: Path, docker_api: DockerAPI) -> Iterator[str]:
    """An image with a password in a file, a build argument in its history, a link to a host file,
    a pipe, a device node and a whiteout; removed after the test with whatever its run made."""
    run_id = secrets.token_hex(5)
    (tmp_path / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (tmp_path / "pw.txt").write_bytes(b"motdepasse=Sup3r-S3cret-42\n")
    tag = f"grader-scan-test-{run_id}"
    try:
        docker_api.client.images.build(
            path=str(tmp_path),
            tag=tag,
            buildargs={"JETON": "Cle-De-Config-77"},
            labels=run_labels(run_id),
            rm=True,
        )
        yield tag
    finally:
        docker_api.remove_image(tag)
        docker_api.sweep(run_id)


def _places(scan: ImageScan, needle: bytes) -> set[str]:
    """Where a needle was found, without the layer's name (each reader names layers its own way)."""
    return {w[w.index(":/") + 1 :] if ":/" in w else "config" for w in scan.where(needle)}


@pytest.mark.every_engine
def test_layer_folders_and_docker_save_agree_on_a_real_build(docker_api: DockerAPI, built: str) -> None:
    attrs = docker_api.image_attrs(built)
    assert attrs is not None
    folders = docker_api.image_layer_folders(attrs)
    if folders is None:
        driver = (attrs.get("GraphDriver") or {}).get("Name")
        assert driver != "overlay2" or os.geteuid() != 0, (
            "a local overlay2 engine, read as root, shows its folders"
        )
        pytest.skip(f"this engine's layers cannot be read from here (driver {driver})")
    layers = attrs["RootFS"]["Layers"]
    base = docker_api.image_attrs(BASE)
    assert base is not None
    below = len(base["RootFS"]["Layers"])
    history = docker_api.image_history(built)
    for search_from in (0, below):
        read = scan_layer_folders(
            list(zip(layers, folders, strict=True)),
            NEEDLES,
            search_from=search_from,
            metadata=[json.dumps(attrs), *history],
        )
        saved = scan_saved_image(docker_api.save_image(built), NEEDLES, search_from=search_from)
        assert read.paths == saved.paths
        assert {"/opt/app/lien", "/opt/app/tube", "/opt/app/disque", "/etc/.wh.motd"} <= read.paths
        for needle in NEEDLES:
            files = {p for p in _places(read, needle) if p != "config"}
            assert files == {p for p in _places(saved, needle) if p != "config"}, needle
        assert _places(read, b"Sup3r-S3cret-42") == {"/opt/app/pw.txt"}
        assert "config" in _places(read, b"Cle-De-Config-77")
        assert "config" in _places(saved, b"Cle-De-Config-77")
    assert not any(p.startswith("/usr/lib/os-release") for p in _places(read, b"GNU/Linux")), (
        "the base image's layers are listed, not searched"
    )


def test_a_password_in_a_layer_is_found_and_the_base_image_is_not_blamed(
    reference_copy: Callable[[str], Path],
) -> None:
    """db's image copies the grader's password (from secrets/) and the student's own one into
    layers: both are found. The student's password is also a line of the base image's
    os-release, which is not the student's doing: that file is not named."""
    submission = reference_copy("fuite")
    etudiants = submission / "etudiants"
    release = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "cat",
            "mysql:8",
            "/usr/lib/os-release",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    own = next(line for line in release.splitlines() if line.startswith("PRETTY_NAME="))
    (etudiants / "secrets" / "db_password.txt").write_text(own, encoding="utf-8")
    (etudiants / "db" / "copie.txt").write_text(own, encoding="utf-8")
    (etudiants / "db" / "Dockerfile").write_text(
        "FROM mysql:8\n"
        "COPY db/etudiants.sql /docker-entrypoint-initdb.d/\n"
        "COPY secrets/db_password.txt /etc/mot-de-passe\n"
        "COPY db/copie.txt /etc/copie-mdp\n",
        encoding="utf-8",
    )
    compose = etudiants / "compose.yaml"
    compose.write_text(
        compose.read_text(encoding="utf-8").replace(
            "    build: ./db\n", "    build:\n      context: .\n      dockerfile: db/Dockerfile\n"
        ),
        encoding="utf-8",
    )
    out = submission.parent / "out"
    done = run_grader(
        "check", str(submission), "--assignment", "cours2", "--only", "etudiants.secret_not_leaked",
        "--out", str(out),
    )  # fmt: skip
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    leak = next(c for c in result["checks"] if c["id"] == "etudiants.secret_not_leaked")
    assert leak["status"] == "failed", done.stdout + done.stderr
    assert "/etc/mot-de-passe" in leak["feedback"], leak["feedback"]
    assert "/etc/copie-mdp" in leak["feedback"], leak["feedback"]
    assert "os-release" not in leak["feedback"], leak["feedback"]
    assert not re.search(r"[0-9a-f]{64}", leak["feedback"]), "files are named by their path alone"
