#!/usr/bin/env bash
# The main job: grades the sample class in submissions/ against cours2 and prints the gradebook.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-out/sample}
exec .venv/bin/grader grade submissions --out "$out" --assignment cours2
