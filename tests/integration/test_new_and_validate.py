"""`grader new` then `grader validate`, for real: the scaffold passes, and validate catches what is wrong.

The grader is the installed command, run from ``tmp_path`` without the grader's environment
variables or ``PYTHONPATH``, as on a fresh clone. ``cours2`` is validated without its samples
(grading its 19 students is the sample-class test's work).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

GRADER = Path(sys.executable).parent / "grader"
PASSED, FAILED = "✔", "✘"


def _grader(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    unset = {"GRADER_CHECKS_DIR", "GRADER_REFERENCE_DIR", "GRADER_LANG", "PYTHONPATH"}
    env = {key: value for key, value in os.environ.items() if key not in unset}
    return subprocess.run(
        [str(GRADER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _points(out: str) -> list[str]:
    """The lines of validate's points, in order."""
    return [line for line in out.splitlines() if line[:1] in (PASSED, FAILED)]


def test_a_new_assignment_validates_and_its_first_validation_records_its_facts(tmp_path: Path) -> None:
    made = _grader("new", "demo", "--dir", str(tmp_path / "labs"), cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    lab = tmp_path / "labs" / "demo"
    facts = lab / "reference" / "facts.json"
    assert not facts.exists()

    first = _grader("validate", "--assignment", str(lab), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    points = _points(first.stdout)
    assert len(points) == 4, first.stdout
    assert all(line.startswith(PASSED) for line in points), first.stdout
    assert "faits enregistrés pour la première fois" in points[0]
    assert facts.is_file()

    written = facts.stat().st_mtime_ns
    again = _grader("validate", "--assignment", str(lab), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "faits enregistrés" not in again.stdout
    assert facts.stat().st_mtime_ns == written, (
        "once recorded, validate rewrites facts.json only with --record"
    )

    rerecorded = _grader("validate", "--assignment", str(lab), "--record", "--no-samples", cwd=tmp_path)
    assert rerecorded.returncode == 0, rerecorded.stdout + rerecorded.stderr
    assert "faits enregistrés :" in rerecorded.stdout


def test_validate_names_the_sample_and_the_check_that_did_not_get_their_expected_outcome(
    tmp_path: Path,
) -> None:
    assert _grader("new", "demo", "--dir", str(tmp_path), cwd=tmp_path).returncode == 0
    lab = tmp_path / "demo"
    assert _grader("reference", "record", "--assignment", str(lab), cwd=tmp_path).returncode == 0
    expected = lab / "samples" / "expected.yaml"
    expected.write_text(
        expected.read_text(encoding="utf-8").replace("web.serves_page: failed", "web.serves_page: passed"),
        encoding="utf-8",
    )
    done = _grader("validate", "--assignment", str(lab), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "copies-to-wrong-folder : web.serves_page : failed (attendu : passed)" in done.stdout
    assert [line[:1] for line in _points(done.stdout)] == [PASSED, FAILED, PASSED, PASSED]


def test_a_reference_that_fails_a_check_fails_validate_and_records_nothing(tmp_path: Path) -> None:
    assert _grader("new", "demo", "--dir", str(tmp_path), cwd=tmp_path).returncode == 0
    lab = tmp_path / "demo"
    dockerfile = lab / "reference" / "web" / "Dockerfile"
    dockerfile.write_text("FROM nginx\nCOPY absent.html /usr/share/nginx/html/index.html\n", encoding="utf-8")
    (lab / "reference" / "facts.json").write_text(
        '{"assignment": "demo", "facts": {"web.page": "<h1>ancienne</h1>\\n"}}\n', encoding="utf-8"
    )
    before = (lab / "reference" / "facts.json").read_bytes()
    done = _grader("validate", "--assignment", str(lab), "--record", "--no-samples", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    first = _points(done.stdout)[0]
    assert first.startswith(FAILED), done.stdout
    assert "web.builds (failed)" in done.stdout
    assert (lab / "reference" / "facts.json").read_bytes() == before, "a failing reference records nothing"


@pytest.mark.parametrize("name", ["cours2", "proxy"])
def test_the_bundled_assignments_validate_without_their_samples(tmp_path: Path, name: str) -> None:
    """Their samples get their expected outcomes in test_sample_class.py and test_proxy_lab.py (the
    same expected.yaml, with scores and feedback too): not graded twice here."""
    done = _grader("validate", "--assignment", name, "--no-samples", cwd=tmp_path, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    points = _points(done.stdout)
    assert len(points) == 3, done.stdout
    assert all(line.startswith(PASSED) for line in points), done.stdout
    assert "--no-samples" in done.stdout
