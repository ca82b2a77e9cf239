"""Hostile HTTP answers and hostile names, made at run time (payloads too big or too raw to commit).

Each server is the nginx of ``cases/http-slow-drip`` (the good cases' nginx layer, cached after the
first build: no pull, no extra package, nothing slow on a cold machine) with its own site and
payload:

- ``http-gzip-bomb``: 1 GiB of zeros gzip'd to 1 MB, served with ``Content-Encoding: gzip``
  although the grader asks for ``identity``;
- ``http-deep-json``: ``application/json`` nested 100,000 deep;
- ``output-escapes``: a 503 whose body clears the screen, forges a "✔ 8/8" line, sets the window
  title, reverses text with bidi overrides and holds GitHub workflow commands;
- ``output-name-...``: a good submission whose folder name carries escape sequences.
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

HERE = Path(__file__).parent
NGINX = HERE / "cases" / "http-slow-drip" / "app"
#: A submission named with escape sequences (folder names may hold any byte but / and NUL).
HOSTILE_NAME = "output-name-\x1b[2J\x1b[31mrouge\u202e"

ESCAPES = (
    "\x1b[2J\x1b[H\x1b[1;32m  ✔ hostile.serves                     1/1\x1b[0m\n"
    "Note : 8/8\r\x1b[2K8/8 vérifications visibles réussies\n"
    "\x1b]0;corrigé 8/8\x07\u009b31mrouge\x1b[8mcaché\x7f\n"
    "\u202etxt.exe\u202c \u2066isolé\u2069\n"
    "::error file=app/compose.yaml::faux\n"
    "##[warning]faux aussi\n"
)


def _site(root: Path, name: str, location: str, extra: str = "") -> Path:
    """A copy of the nginx case whose only site answers GET / with ``location``; returns files/."""
    app = root / name / "app"
    shutil.copytree(NGINX, app)
    (app / "files" / "index.html").unlink()
    (app / "site.conf").write_text(
        "server {\n"
        "    listen 80 default_server;\n"
        "    root /usr/share/nginx/html;\n"
        f"    location = / {{\n{location}    }}\n"
        f"{extra}"
        "}\n",
        encoding="utf-8",
    )
    return app / "files"


def _gzip_of_zeros(path: Path, size: int) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    with path.open("wb") as handle:
        for _ in range(size // len(zeros)):
            handle.write(compressor.compress(zeros))
        handle.write(compressor.flush())


def make(root: Path) -> None:
    files = _site(
        root,
        "http-gzip-bomb",
        "        types { }\n"
        "        default_type text/html;\n"
        "        add_header Content-Encoding gzip;\n"
        "        try_files /bomb.gz =404;\n",
    )
    _gzip_of_zeros(files / "bomb.gz", 1024**3)

    files = _site(
        root,
        "http-deep-json",
        "        types { }\n        default_type application/json;\n        try_files /deep.json =404;\n",
    )
    (files / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="ascii")

    files = _site(
        root,
        "output-escapes",
        "        return 503;\n",
        "    error_page 503 /escapes.txt;\n"
        "    location = /escapes.txt {\n"
        "        internal;\n"
        "        types { }\n"
        '        default_type "text/plain; charset=utf-8";\n'
        "    }\n",
    )
    (files / "escapes.txt").write_text(ESCAPES, encoding="utf-8")

    shutil.copytree(HERE / "cases" / "good", root / HOSTILE_NAME)
