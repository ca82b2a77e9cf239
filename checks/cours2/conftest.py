"""Fixtures of the cours2 checks: each part of the submission as a stack, built on demand."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import Grading, Stack, SubmissionError, _

SECRET = "db_password"
SECRET_PATH = "/run/secrets/db_password"
NETWORK = "cours2"
ALIAS = "mysql"


@pytest.fixture(scope="session")
def siteweb(grading: Grading) -> Stack:
    """``siteweb/``: the image, as a one-service project named ``siteweb``."""
    return grading.stack("siteweb")


@pytest.fixture(scope="session")
def compteur(grading: Grading) -> Stack:
    """``compteur/``: the image, run with the named volume ``compteur-data`` at /data."""
    return grading.stack("compteur")


@dataclass
class Etudiants:
    """The Compose project of ``etudiants/`` and what the grader knows about its secret."""

    stack: Stack
    #: What the student wrote in their secret file (looked for in leaks too).
    student_password: str
    #: The fresh password the grader wrote into the secret file before ``up``.
    password: str

    @property
    def model(self) -> dict[str, Any]:
        return self.stack.declared

    def network_key(self) -> str | None:
        """The key of the network the student named ``cours2`` (by key or by ``name:``)."""
        for key, spec in (self.model.get("networks") or {}).items():
            if key == NETWORK or (spec or {}).get("name") == NETWORK:
                return str(key)
        return None

    def sql(self, statement: str) -> str:
        """Run SQL in ``db`` as root, with the password read from the secret inside the container."""
        script = (
            'c=$(command -v mariadb || command -v mysql) && "$c" -uroot -p"$(cat ' + SECRET_PATH + ')" '
            '--default-character-set=utf8mb4 -N -B cours2 -e "$1"'
        )
        result = self.stack.service("db").exec("sh", "-c", script, "sql", statement)
        if result.exit_code != 0:
            raise SubmissionError(
                _(
                    "La base ne répond pas au mot de passe du secret {secret} (comme root, base cours2) : {error}"
                ).format(secret=SECRET, error=result.output.strip()[-300:])
            )
        return result.output


def _secret_file(model: dict[str, Any]) -> Path | None:
    spec = (model.get("secrets") or {}).get(SECRET) or {}
    return Path(spec["file"]) if spec.get("file") else None


@pytest.fixture(scope="session")
def etudiants(grading: Grading) -> Etudiants:
    """``etudiants/``: the Compose project, with a fresh password in its secret file.

    The fresh password proves the services read the secret (a hard-coded password cannot
    match it); the student's own is remembered so that leak checks look for both.
    """
    stack = grading.stack("etudiants")
    secret_file = _secret_file(stack.declared)
    student_password = ""
    fresh = "g" + secrets.token_hex(12)
    if secret_file is not None and secret_file.is_file():
        student_password = grading.read_bytes(secret_file).decode("utf-8", "replace").strip()
        grading.write_bytes(secret_file, (fresh + "\n").encode())
    return Etudiants(stack=stack, student_password=student_password, password=fresh)
