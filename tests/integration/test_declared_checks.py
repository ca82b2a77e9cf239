"""Reusable checks declared in assignment.yaml (``uses:``), run for real: the reference's facts are
recorded, then a submission gets each declared check's verdict, and a broken service fails only
the checks that need it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import ASSIGNMENTS, run_grader

pytestmark = pytest.mark.docker

BROKEN = """\
  broken:
    build:
      context: .
      dockerfile_inline: |
        FROM debian:bookworm-slim
        RUN echo en panne && exit 3
"""

EXPECTED = {
    "app.web_builds": "passed",
    "app.everything_builds": "failed",
    "app.healthy": "passed",
    "app.non_root": "passed",
    "app.not_published": "passed",
    "app.memory": "failed",
    "app.same_set": "passed",
    "app.same_json": "failed",
    "app.size": "passed",
    "app.volume": "passed",
    "app.alias": "passed",
    "app.secret": "failed",
    "app.multistage": "passed",
    "app.dockerignore": "failed",
}


def test_declared_checks_against_the_recorded_reference(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(ASSIGNMENTS / "declared", lab)
    recorded = run_grader("reference", "record", "--assignment", str(lab))
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    facts = json.loads((lab / "reference" / "facts.json").read_text(encoding="utf-8"))["facts"]
    assert facts["app.same_json.answer"] == [{"id": 1}, {"id": 2}, {"id": 3}], facts
    assert facts["app.size.size_bytes"] > 0, facts

    app = tmp_path / "remise" / "app"
    shutil.copytree(lab / "reference" / "app", app)
    (app / "srv" / "data.json").write_text('[{"id": 3}, {"id": 1}, {"id": 2}]\n')
    compose = (app / "compose.yaml").read_text().replace("    mem_limit: 64m\n", "")
    # The password also in the worker's environment; no .dockerignore; a broken extra service.
    compose = compose.replace(
        "    init: true\n", "    init: true\n    environment: [PASSWORD=un-secret-assez-long-42]\n"
    )
    compose = compose.replace("volumes:\n  data:\n", BROKEN + "volumes:\n  data:\n")
    (app / "compose.yaml").write_text(compose)
    (app / ".dockerignore").unlink()
    out = tmp_path / "out"
    done = run_grader("check", str(app.parent), "--all", "--assignment", str(lab), "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    got = {c["id"]: c["status"] for c in result["checks"]}
    feedback = {c["id"]: c["feedback"] for c in result["checks"]}
    assert got == EXPECTED, feedback
    assert "ne se construit pas" in feedback["app.everything_builds"], feedback
    assert "aucune limite déclarée" in feedback["app.memory"], feedback
    assert "même JSON" in feedback["app.same_json"], feedback
    assert "l'environnement du conteneur « worker »" in feedback["app.secret"], feedback
    assert ".dockerignore est absent" in feedback["app.dockerignore"], feedback

    # The student's kit: the visible declared checks with the facts they need, nothing of the hidden one.
    made = run_grader("kit", "--assignment", str(lab), str(tmp_path / "kit"))
    assert made.returncode == 0, made.stdout + made.stderr
    kit = tmp_path / "kit" / "declared"
    kit_facts = json.loads((kit / "facts.json").read_text(encoding="utf-8"))["facts"]
    assert set(kit_facts) == {"app.same_set.answer", "app.same_json.answer"}, kit_facts
    assert "app.size" not in (kit / "assignment.yaml").read_text(encoding="utf-8")
    again = run_grader("check", str(app.parent), "--assignment", str(kit), "--out", str(tmp_path / "out-kit"))
    assert again.returncode == 1, again.stdout + again.stderr
    result = json.loads((tmp_path / "out-kit" / "result.json").read_text(encoding="utf-8"))
    visible = {check: status for check, status in EXPECTED.items() if check != "app.size"}
    assert {c["id"]: c["status"] for c in result["checks"]} == visible
