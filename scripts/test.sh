#!/usr/bin/env bash
# The test suite: lint, types, unit tests, then integration tests on the real engine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Test-only: a real registry for registry.image_pullable (Debian's docker-registry, run on 127.0.0.1).
if ! command -v docker-registry >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
fi
export GRADER_REQUIRE_DOCKER=1  # integration tests fail, never skip, when Docker is missing
.venv/bin/ruff check .
.venv/bin/ruff format --check harness grader.py tests checks conftest.py
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
