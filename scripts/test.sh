#!/usr/bin/env bash
# The test suite: lint, types, unit tests, then integration tests on the real engine; then, with
# no arguments and where this script may switch engines (root, Debian's Engine 20.10 answering),
# the tests marked `every_engine` (reference, sample class, hostile suite...) again on Engine 26,
# and back to Engine 20.10. GRADER_SECOND_ENGINE= (empty) skips the second engine.
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
for checks in checks/*/; do .venv/bin/mypy --strict "$checks"; done  # one at a time: each has its conftest
.venv/bin/python -m pytest "$@"
echo "[test] setup, lint, types and the whole suite: ${SECONDS} s (engine $(docker version -f '{{.Server.Version}}' 2>/dev/null))" >&2

second=${GRADER_SECOND_ENGINE-26}
first=$(docker version -f '{{.Server.Version}}' 2>/dev/null || true)
if [ $# -gt 0 ] || [ -z "$second" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || [[ "$first" != 20.10.* ]]; then
  echo "[test] Engine $second skipped: switching engines needs root, apt-get and Debian's Engine 20.10 (this engine: ${first:-none})." >&2
  exit 0
fi
phase=$SECONDS
# Engine 26 needs the images of the lab its tests grade. Where its data root is new (a fresh
# machine), they come from this engine (`grader images save`, stand-ins included) rather than from
# a second debootstrap and stand-in builds; otherwise it holds them from an earlier run.
needed=$(.venv/bin/grader images list --assignment cours2 | awk '$1 != "debian:bookworm-slim" {print $1}' | tr '\n' ' ')
archive=
if [ ! -d /var/lib/docker-26/image ]; then
  archive=$(mktemp -u /var/tmp/grader-images.XXXXXX.tar)
  .venv/bin/grader images save --assignment cours2 "$archive" >/dev/null
fi
trap 'rm -f "$archive"; bash scripts/engine.sh 20.10' EXIT
bash scripts/engine.sh "$second"
GRADER_IMAGES_ARCHIVE=$archive GRADER_STANDINS=$needed bash scripts/ensure-docker.sh .venv/bin/python
rm -f "$archive"
echo "[test] the tests marked every_engine, on Engine $(docker version -f '{{.Server.Version}}')" >&2
.venv/bin/python -m pytest -m every_engine
echo "[test] Engine $second (switch, images, tests): $((SECONDS - phase)) s; ${SECONDS} s in all" >&2
