"""Compose policy cases made at run time: a huge Compose file, and a rich legitimate project."""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent
GOOD = HERE / "cases" / "good"

#: Everything a lab's project may use: include, extends, env files (one through a link inside the
#: submission), anchors and merge keys, a health check, start conditions, limits, an image-only service.
RICH_PROJECT = """\
x-small: &small
  deploy:
    resources:
      limits: {memory: 48M, cpus: "0.5"}
include:
  - path: extra/compose.yaml
services:
  web:
    extends: {file: base.yaml, service: nginx}
    <<: *small
    ports: ["80:80"]
    env_file: [config/web.env, {path: config/optional.env, required: false}]
    environment:
      - SITE=${SITE_NAME:-cours}
    healthcheck:
      test: ["CMD-SHELL", "test -f /usr/share/nginx/html/index.html"]
      interval: 1s
      retries: 10
    depends_on:
      helper: {condition: service_started}
    labels: {cours: "2"}
    restart: unless-stopped
    stop_grace_period: 1m30s
    x-note: extension fields are fine
"""
BASE = """\
services:
  nginx:
    build: {context: ., dockerfile: Dockerfile}
    init: true
"""
EXTRA = """\
services:
  helper:
    image: debian:bookworm-slim
    pull_policy: never
    command: ["sleep", "infinity"]
    init: true
    read_only: true
    user: "65534:65534"
"""


def make(root: Path) -> None:
    # 12 MB of ordinary YAML: parsed whole, it took 1.3 GiB in the grading process and 1.2 GiB in Compose.
    huge = root / "policy-compose-huge" / "app"
    shutil.copytree(GOOD / "app", huge)
    with (huge / "compose.yaml").open("a", encoding="utf-8") as handle:
        handle.write("x-padding:\n")
        line = "  - " + "du texte sans importance " * 4 + "\n"
        handle.write(line * (12 * 1024 * 1024 // len(line)))

    rich = root / "policy-good-rich" / "app"
    shutil.copytree(GOOD / "app", rich)
    (rich / "compose.yaml").write_text(RICH_PROJECT, encoding="utf-8")
    (rich / "base.yaml").write_text(BASE, encoding="utf-8")
    (rich / "extra").mkdir()
    (rich / "extra" / "compose.yaml").write_text(EXTRA, encoding="utf-8")
    (rich / "config").mkdir()
    (rich / "config" / "web.env").write_text("GREETING=bonjour\n", encoding="utf-8")
    (rich / "config" / "dotenv").write_text("SITE_NAME=cours2\n", encoding="utf-8")
    (rich / ".env").symlink_to("config/dotenv")
