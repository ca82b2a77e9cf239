"""The public API (``from harness import ...``) on a real project: a check that starts only the
service it needs passes while another service of the project is broken; health, the process's
user, recreate, down and the declared configuration read as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ASSIGNMENTS, run_grader

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM debian:bookworm-slim
RUN mkdir /data && chown 1000 /data
USER 1000
CMD ["sleep", "600"]
"""

COMPOSE = """\
services:
  web:
    build: .
    restart: on-failure:3
    stop_signal: SIGKILL
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "echo", "bien portant"]
      interval: 1s
      retries: 5
  broken:
    build:
      context: .
      dockerfile_inline: |
        FROM debian:bookworm-slim
        RUN echo en panne && exit 3
volumes:
  data:
"""

EXPECTED = {
    "api.alone": "passed",
    "api.everything": "failed",
    "api.alone_again": "passed",
    "api.recreate": "passed",
    "api.declared": "passed",
    "api.down": "passed",
}


def test_checks_written_with_the_public_api(tmp_path: Path) -> None:
    app = tmp_path / "remise" / "app"
    app.mkdir(parents=True)
    (app / "Dockerfile").write_text(DOCKERFILE)
    (app / "compose.yaml").write_text(COMPOSE)
    out = tmp_path / "out"
    done = run_grader("check", str(app.parent), "--assignment", str(ASSIGNMENTS / "api"), "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    got = {c["id"]: c["status"] for c in result["checks"]}
    feedback = {c["id"]: c["feedback"] for c in result["checks"]}
    assert got == EXPECTED, feedback
    assert "ne se construit pas" in feedback["api.everything"], feedback
    assert not any("SIGTERM" in text for text in feedback.values()), "stop_signal: SIGKILL asks for 137"
