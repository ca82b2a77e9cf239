"""grader check on real builds: the reference passes, broken copies fail with useful feedback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REFERENCE, run_grader

pytestmark = pytest.mark.docker
SITEWEB = ["--only", "siteweb.builds", "--only", "siteweb.serves_site"]


def _checks(out: Path) -> dict[str, dict[str, object]]:
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return {c["id"]: c for c in data["checks"]}


def test_the_reference_passes_both_siteweb_checks(tmp_path: Path) -> None:
    done = run_grader("check", str(REFERENCE), "--assignment", "cours2", "--out", str(tmp_path), *SITEWEB)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = _checks(tmp_path)
    assert checks["siteweb.builds"]["status"] == "passed"
    assert checks["siteweb.serves_site"]["status"] == "passed"
    assert "15/15" in done.stdout


def test_a_site_copied_to_the_wrong_folder_fails_and_names_the_difference(
    reference_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    sub = reference_copy("wrong-folder")
    dockerfile = sub / "siteweb" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("/usr/share/nginx/html/", "/var/www/ailleurs/"))
    done = run_grader("check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "out"), *SITEWEB)
    assert done.returncode == 1, done.stdout + done.stderr
    serves = _checks(tmp_path / "out")["siteweb.serves_site"]
    assert serves["status"] == "failed"
    assert serves["score"] == 0
    feedback = str(serves["feedback"])
    assert "ligne 2" in feedback
    assert 'attendu : <html lang="fr">' in feedback, "the expected line is quoted"
    assert "observé : <html>" in feedback, "the observed line is quoted"


def test_an_edited_page_is_served_as_edited(reference_copy: Callable[[str], Path], tmp_path: Path) -> None:
    sub = reference_copy("edited")
    (sub / "siteweb" / "files" / "index.html").write_text("<p>Édité à la main ✓</p>\n", encoding="utf-8")
    done = run_grader("check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "out"), *SITEWEB)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_dockerfile_that_does_not_build_fails_with_the_build_error(
    reference_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    sub = reference_copy("typo")
    dockerfile = sub / "siteweb" / "Dockerfile"
    # A step that fails, as a student's typo in a package name would.
    dockerfile.write_text(dockerfile.read_text() + "RUN apt-get install -y nginx-absent\n")
    done = run_grader(
        "check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "out"), *SITEWEB, "--lang", "en"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    checks = _checks(tmp_path / "out")
    assert checks["siteweb.builds"]["status"] == "failed"
    assert "Unable to locate package nginx-absent" in str(checks["siteweb.builds"]["feedback"])
    assert "The image does not build." in str(checks["siteweb.builds"]["feedback"])
    assert checks["siteweb.serves_site"]["status"] == "failed"
    assert "siteweb.builds" in str(checks["siteweb.serves_site"]["feedback"])


def test_a_missing_part_fails_with_a_sentence_not_a_crash(tmp_path: Path) -> None:
    sub = tmp_path / "empty-ish"
    sub.mkdir()
    (sub / "README.md").write_text("rien ici")
    done = run_grader("check", str(sub), "--assignment", "cours2", "--out", str(tmp_path / "out"), *SITEWEB)
    assert done.returncode == 1, done.stdout + done.stderr
    for check in _checks(tmp_path / "out").values():
        assert check["status"] == "failed"
        assert "siteweb/" in str(check["feedback"])
