#!/usr/bin/env bash
# Prepares a machine to run the grader: a virtualenv with the grader in it (.venv),
# a Docker engine that answers, Compose v2 and the base image. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv .venv
    else
      echo "[setup] python3 -m venv fails: install python3-venv (Python >= 3.11) and run again." >&2
      exit 1
    fi
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
bash scripts/ensure-docker.sh .venv/bin/python
