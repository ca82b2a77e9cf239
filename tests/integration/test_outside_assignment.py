"""A lab in a folder outside the project works through every front door, with no environment variable.

The lab is written into ``tmp_path`` as an instructor would write it: ``assignment.yaml``, one
check file (build, then GET / compared with the reference's page), its ``reference/`` inside the
folder and an English catalog in ``locale/``. The grader is the installed command, run from
``tmp_path``, without ``GRADER_CHECKS_DIR``, ``GRADER_REFERENCE_DIR`` or ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

pytestmark = pytest.mark.docker

GRADER = Path(sys.executable).parent / "grader"
LAB_ID = "demo-lab"

ASSIGNMENT_YAML = """\
id: demo-lab
title: A page served on port 80
parts:
  web: {kind: dockerfile, directory: web, http_ports: [80]}
checks:
  web.builds: {points: 1}
  web.serves: {points: 2}
limits:
  build_timeout_s: 120
  ready_timeout_s: 20
  submission_timeout_s: 300
"""

CHECKS = '''\
"""web/: an image that serves the lab's page on port 80."""

from __future__ import annotations

from harness import _, check


@check("web.builds")
def test_web_builds(grading) -> None:
    grading.stack("web").build()


@check("web.serves")
def test_web_serves_the_page(grading) -> None:
    response = grading.stack("web").up().service("web").get("/", port=80)
    assert response.status == 200, _("GET / renvoie le code {status} au lieu de 200.").format(
        status=response.status
    )
    expected = grading.fact("page", response.text)
    assert response.text == expected, _(
        "GET / ne renvoie pas la page de l'énoncé : copiez index.html dans /srv."
    )
'''

ENGLISH = {
    "GET / renvoie le code {status} au lieu de 200.": "GET / answers {status} instead of 200.",
    "GET / ne renvoie pas la page de l'énoncé : copiez index.html dans /srv.": (
        "GET / does not return the lab's page: copy index.html into /srv."
    ),
}

# perl-base is in debian:bookworm-slim: a server needs no package download.
SERVER = r"""use strict;
use warnings;
use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
my $server = IO::Socket::INET->new(LocalPort => 80, Listen => 16, ReuseAddr => 1) or die "listen: $!";
while (my $client = $server->accept) {
    while (my $line = <$client>) { last if $line =~ /^\r?$/ }
    open(my $page, '<', '/srv/index.html') or die "index.html: $!";
    my $body = do { local $/; <$page> };
    close $page;
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
        . length($body) . "\r\nConnection: close\r\n\r\n" . $body;
    close $client;
}
"""

DOCKERFILE = """\
FROM debian:bookworm-slim
COPY serve.pl /serve.pl
COPY index.html /srv/index.html
EXPOSE 80
CMD ["perl", "/serve.pl"]
"""

PAGE = "<h1>La page du laboratoire</h1>\n"


def _submission(folder: Path, page: str) -> Path:
    web = folder / "web"
    web.mkdir(parents=True)
    (web / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (web / "serve.pl").write_text(SERVER, encoding="utf-8")
    (web / "index.html").write_text(page, encoding="utf-8")
    return folder


def _lab(folder: Path, *, english: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "assignment.yaml").write_text(ASSIGNMENT_YAML, encoding="utf-8")
    (folder / "test_web.py").write_text(CHECKS, encoding="utf-8")
    _submission(folder / "reference", PAGE)
    if english:
        catalog = Catalog(locale="en", domain="messages")
        for message, string in ENGLISH.items():
            catalog.add(message, string)
        target = folder / "locale" / "en" / "LC_MESSAGES"
        target.mkdir(parents=True)
        with (target / "messages.mo").open("wb") as handle:
            write_mo(handle, catalog)
    return folder


def _grader(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The installed command, from a folder outside the project, without the grader's variables."""
    unset = {"GRADER_CHECKS_DIR", "GRADER_REFERENCE_DIR", "GRADER_LANG", "PYTHONPATH"}
    env = {key: value for key, value in os.environ.items() if key not in unset}
    return subprocess.run(
        [str(GRADER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _checks(out: Path) -> dict[str, tuple[str, float, str]]:
    data: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return {c["id"]: (c["status"], c["score"], c["feedback"]) for c in data["checks"]}


UNTRANSLATED = "has no English translation"


def test_a_lab_outside_the_project_records_grades_checks_and_makes_its_kit(tmp_path: Path) -> None:
    lab = _lab(tmp_path / "labs" / "demo")
    good = _submission(tmp_path / "class" / "alice", PAGE)
    wrong = _submission(tmp_path / "class" / "bruno", "<h1>Une autre page</h1>\n")

    recorded = _grader("reference", "record", "--assignment", str(lab), cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    facts = json.loads((lab / "reference" / "facts.json").read_text(encoding="utf-8"))
    assert facts["facts"]["page"] == PAGE  # the lab's own reference/, measured and stored beside it

    checked = _grader(
        "check", "--assignment", str(lab), str(good), "--out", str(tmp_path / "good"), cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {k: v[:2] for k, v in _checks(tmp_path / "good").items()} == {
        "web.builds": ("passed", 1.0),
        "web.serves": ("passed", 2.0),
    }
    assert "2/2 vérifications visibles réussies" in checked.stdout

    english = _grader(
        "--lang",
        "en",
        "check",
        "--assignment",
        str(lab),
        str(wrong),
        "--out",
        str(tmp_path / "wrong"),
        cwd=tmp_path,
    )
    assert english.returncode == 1, english.stdout + english.stderr
    status, score, feedback = _checks(tmp_path / "wrong")["web.serves"]
    assert (status, score) == ("failed", 0.0)
    assert "GET / does not return the lab's page: copy index.html into /srv." in feedback
    assert UNTRANSLATED not in english.stderr

    graded = _grader(
        "grade",
        "--assignment",
        str(lab),
        str(tmp_path / "class"),
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "2 remises à corriger" in graded.stdout
    assert _checks(tmp_path / "out" / "alice")["web.serves"][:2] == ("passed", 2.0)
    assert _checks(tmp_path / "out" / "bruno")["web.serves"][:2] == ("failed", 0.0)
    assert (tmp_path / "out" / "gradebook.csv").is_file()

    made = _grader("kit", "--assignment", str(lab), str(tmp_path / "kit"), cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    kit = tmp_path / "kit" / LAB_ID
    shipped = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    assert {"assignment.yaml", "test_web.py", "facts.json", "locale/en/LC_MESSAGES/messages.mo"} <= shipped
    assert not any(name.startswith("reference/") for name in shipped), shipped

    # The student's side: the kit alone, in English, names the same mistake in the lab's words.
    student = _grader(
        "--lang",
        "en",
        "check",
        "--assignment",
        str(kit),
        str(wrong),
        "--out",
        str(tmp_path / "student"),
        cwd=tmp_path,
    )
    assert student.returncode == 1, student.stdout + student.stderr
    assert "copy index.html into /srv" in _checks(tmp_path / "student")["web.serves"][2]
    assert UNTRANSLATED not in student.stderr


def test_a_lab_without_english_says_so_once_and_keeps_its_french_feedback(tmp_path: Path) -> None:
    lab = _lab(tmp_path / "demo", english=False)
    wrong = _submission(tmp_path / "bruno", "<p>404</p>\n")
    recorded = _grader("reference", "record", "--assignment", str(lab), cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr

    english = _grader(
        "--lang",
        "en",
        "check",
        "--assignment",
        str(lab),
        str(wrong),
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert english.returncode == 1, english.stdout + english.stderr
    assert (
        english.stderr.count(f"Assignment {LAB_ID} has no English translation: its feedback stays in French.")
        == 1
    )
    assert "copiez index.html dans /srv" in _checks(tmp_path / "out")["web.serves"][2]
