#!/usr/bin/env bash
# The test suite: lint, types, unit tests, then integration tests on the real engine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADER_REQUIRE_DOCKER=1  # integration tests fail, never skip, when Docker is missing
.venv/bin/ruff check .
.venv/bin/ruff format --check harness grader.py tests checks conftest.py
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
