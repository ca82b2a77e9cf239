"""Hostile builds made at run time: two students whose builds share a cache mount id.

Each of ``build-cache-first`` and ``build-cache-second`` writes a file into
``RUN --mount=type=cache,id=shared`` and fails to build when it finds anything there: whichever
is built second would read what the other one wrote if cache mounts were shared between
gradings. A token of this run in the command makes BuildKit run the step again in every run
instead of taking it from its layer cache.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

GOOD = Path(__file__).parent / "cases" / "good"

CACHE_STEP = """
# A cache mount with a fixed id: another grading's build that uses it must never show here.
RUN --mount=type=cache,id=shared,target=/c \\
    if [ -n "$(ls -A /c)" ]; then echo "another build's files are in the cache: $(ls -A /c)"; exit 1; fi; \\
    echo {name} > /c/{name}-{token}
"""


def make(root: Path) -> None:
    token = secrets.token_hex(4)
    for name in ("build-cache-first", "build-cache-second"):
        case = root / name
        shutil.copytree(GOOD, case)
        dockerfile = case / "app" / "Dockerfile"
        lines = dockerfile.read_text(encoding="utf-8").splitlines(keepends=True)
        after_install = next(i for i, line in enumerate(lines) if line.startswith("COPY "))
        lines.insert(after_install, CACHE_STEP.format(name=name, token=token))
        dockerfile.write_text("".join(lines), encoding="utf-8")
