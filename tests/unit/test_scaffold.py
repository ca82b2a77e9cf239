"""`grader new` writes an assignment that holds together, and `grader validate`'s offline points.

What needs Docker (the reference and the samples graded for real) is in
tests/integration/test_new_and_validate.py; here: the folder `new` writes, its refusals, the
statement's grading table, the kit's point, the comparison of a sample with its expected outcome,
and the wheel carrying the templates.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import grader
from harness.assignment import Assignment, CheckSpec, find_assignment, load_assignment
from harness.docker_api import DockerAPI
from harness.errors import GraderError
from harness.grading import FACTS_FILE
from harness.kit import make_kit
from harness.results import CheckResult, SubmissionResult
from harness.scaffold import TEMPLATES, scaffold, valid_id
from harness.validate import (
    Finding,
    exit_status,
    grading_table,
    render_grading_table,
    sample_mismatches,
    samples_folder,
    statement_path,
    validate_kit,
    validate_samples,
    validate_statement,
)

from .helpers import build_wheel

ROOT = Path(__file__).resolve().parents[2]


def _new(tmp_path: Path, name: str = "demo") -> Path:
    assert grader.main(["--lang", "fr", "new", name, "--dir", str(tmp_path)]) == 0
    return tmp_path / name


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _with_facts(folder: Path) -> Assignment:
    """The scaffold as `grader reference record` leaves it: its facts beside the reference."""
    page = (folder / "reference" / "web" / "index.html").read_text(encoding="utf-8")
    facts = {"assignment": folder.name, "grader_version": "0", "facts": {"web.page": page}}
    (folder / "reference" / FACTS_FILE).write_text(json.dumps(facts), encoding="utf-8")
    return load_assignment(folder)


# -- grader new -----------------------------------------------------------------------------------


def test_new_writes_an_assignment_with_a_declared_check_a_pytest_check_a_reference_a_statement_and_a_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _new(tmp_path)
    assert "grader validate --assignment" in capsys.readouterr().out
    assert _files(folder) == {
        "assignment.yaml",
        "test_demo.py",
        "reference/ENONCE.md",
        "reference/web/Dockerfile",
        "reference/web/index.html",
        "samples/expected.yaml",
        "samples/copies-to-wrong-folder/web/Dockerfile",
        "samples/copies-to-wrong-folder/web/index.html",
    }
    assignment = load_assignment(folder)
    assert assignment.id == "demo"
    assert list(assignment.parts) == ["web"]
    declared = [spec for spec in assignment.checks.values() if spec.uses]
    coded = [spec for spec in assignment.checks.values() if not spec.uses]
    assert [(spec.uses, dict(spec.params)) for spec in declared] == [("builds", {"part": "web"})]
    assert len(coded) == 1
    assert "FROM nginx" in (folder / "reference" / "web" / "Dockerfile").read_text(encoding="utf-8")
    assert assignment.images == ("nginx:latest",)


def test_the_pytest_check_imports_only_the_public_api_and_implements_its_id(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    assignment = load_assignment(folder)
    tree = ast.parse((folder / "test_demo.py").read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert all(isinstance(node, ast.ImportFrom) for node in imports)
    assert {node.module for node in imports if isinstance(node, ast.ImportFrom)} == {"__future__", "harness"}
    implemented = {
        ast.literal_eval(decorator.args[0])
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "check"
    }
    assert implemented == {spec.id for spec in assignment.checks.values() if not spec.uses}


def test_the_written_check_file_passes_the_projects_linter(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.is_file():
        pytest.skip("ruff is not installed here (the dev extra)")
    linted = subprocess.run(
        [
            str(ruff),
            "check",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--no-cache",
            str(folder / "test_demo.py"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_statement_is_french_and_its_grading_table_is_generated_from_assignment_yaml(
    tmp_path: Path,
) -> None:
    folder = _new(tmp_path)
    assignment = load_assignment(folder)
    statement = statement_path(assignment)
    assert statement == folder / "reference" / "ENONCE.md"
    text = statement.read_text(encoding="utf-8")
    assert "Barème" in text
    assert "{{" not in text
    assert grading_table(text) == {spec.id: spec.points for spec in assignment.checks.values()}
    assert validate_statement(assignment).ok


def test_the_sample_has_its_expected_outcome_for_every_check(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    assignment = load_assignment(folder)
    expected = yaml.safe_load((folder / "samples" / "expected.yaml").read_text(encoding="utf-8"))
    samples = {p.name for p in (folder / "samples").iterdir() if p.is_dir()}
    assert set(expected) == samples
    for outcomes in expected.values():
        assert set(outcomes) == set(assignment.checks)
        assert "failed" in outcomes.values(), "a sample shows a mistake the checks catch"


def test_a_name_with_a_hyphen_is_the_id_and_its_check_file_takes_an_underscore(tmp_path: Path) -> None:
    folder = _new(tmp_path, "demo-lab_2")
    assert load_assignment(folder).id == "demo-lab_2"
    assert (folder / "test_demo_lab_2.py").is_file()


@pytest.mark.parametrize("name", ["", "a b", "a/b", "..", ".hidden", "démo", "a.b", "x;y"])
def test_new_refuses_a_name_that_is_not_an_id_in_one_sentence(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not valid_id(name)
    assert grader.main(["--lang", "fr", "new", name, "--dir", str(tmp_path / "labs")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "n'est pas un identifiant de devoir valide" in err
    assert not (tmp_path / "labs").exists()


def test_new_refuses_a_folder_that_exists_and_leaves_it_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine", encoding="utf-8")
    assert grader.main(["--lang", "fr", "new", "demo", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "existe déjà" in err
    assert _files(tmp_path / "demo") == {"notes.txt"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"], "nothing half-written beside it"


def test_new_refuses_a_link_in_the_way_even_a_dangling_one(tmp_path: Path) -> None:
    (tmp_path / "demo").symlink_to(tmp_path / "nowhere")
    with pytest.raises(GraderError, match="existe déjà"):
        scaffold("demo", tmp_path)
    assert not (tmp_path / "nowhere").exists()


def test_new_defaults_to_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert grader.main(["--lang", "fr", "new", "here"]) == 0
    assert (tmp_path / "here" / "assignment.yaml").is_file()


def test_new_works_without_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    _new(tmp_path)


# -- the statement's grading table ----------------------------------------------------------------


def test_cours2s_grading_table_reads_as_every_check_with_its_points() -> None:
    cours2 = load_assignment(find_assignment("cours2"))
    statement = statement_path(cours2)
    assert statement is not None
    table = grading_table(statement.read_text(encoding="utf-8"))
    assert table == {spec.id: spec.points for spec in cours2.checks.values()}
    assert validate_statement(cours2).ok


def test_only_tables_whose_last_header_is_points_are_read() -> None:
    text = (
        "| fichier | rôle |\n|---|---|\n| `web.conf` | 3 mots |\n\n"
        "| vérification | points |\n|:--|--:|\n| `web.builds`, `web.serves` | 2, 3.5 |\n"
    )
    assert grading_table(text) == {"web.builds": 2.0, "web.serves": 3.5}


@pytest.mark.parametrize(
    "row", ["| `web.builds`, `web.serves` | 2 |", "| `web.builds` | 2 | 3 |", "| `web.builds` | deux |"]
)
def test_a_row_whose_ids_and_points_do_not_pair_up_is_refused(row: str) -> None:
    with pytest.raises(GraderError, match="n'associe pas"):
        grading_table(f"| vérification | points |\n|---|---|\n{row}\n")


def test_a_check_given_twice_is_refused() -> None:
    with pytest.raises(GraderError, match="deux fois"):
        grading_table("| vérification | points |\n|---|---|\n| `a.b` | 1 |\n| `a.b` | 1 |\n")


def test_the_rendered_table_announces_hidden_checks_and_reads_back() -> None:
    checks = {
        "web.builds": CheckSpec("web.builds", 2),
        "web.size": CheckSpec("web.size", 1.5, visibility="hidden"),
    }
    rendered = render_grading_table(checks)
    assert "correction finale" in rendered
    assert grading_table(rendered) == {"web.builds": 2, "web.size": 1.5}


def _statement(folder: Path, rows: str) -> Assignment:
    (folder / "reference" / "ENONCE.md").write_text(
        f"# Énoncé\n\n| vérification | points |\n|---|---|\n{rows}", encoding="utf-8"
    )
    return load_assignment(folder)


def test_validate_names_every_difference_between_the_table_and_assignment_yaml(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    finding = validate_statement(_statement(folder, "| `web.builds` | 3 |\n| `web.extra` | 1 |\n"))
    assert finding.status == "failed"
    assert "diffère" in finding.sentence
    assert any("web.serves_page (3 points) manque" in line for line in finding.details)
    assert any("web.builds : 3 points au barème, 2 dans assignment.yaml" in line for line in finding.details)
    assert any("web.extra est au barème" in line for line in finding.details)


def test_a_hidden_check_may_stay_out_of_the_table(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    yaml_path = folder / "assignment.yaml"
    yaml_path.write_text(
        yaml_path.read_text(encoding="utf-8").replace(
            "  web.serves_page: {points: 3}", "  web.serves_page: {points: 3, visibility: hidden}"
        ),
        encoding="utf-8",
    )
    assert validate_statement(_statement(folder, "| `web.builds` | 2 |\n")).ok
    assert not validate_statement(_statement(folder, "| `web.builds` | 2 |\n| `web.serves_page` | 1 |\n")).ok


def test_a_statement_without_a_grading_table_or_without_a_statement_fails(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    (folder / "reference" / "ENONCE.md").write_text("# Énoncé\n\nRien.\n", encoding="utf-8")
    assert "n'a pas de barème" in validate_statement(load_assignment(folder)).sentence
    (folder / "reference" / "ENONCE.md").unlink()
    assert "Aucun énoncé" in validate_statement(load_assignment(folder)).sentence


# -- facts, the kit -------------------------------------------------------------------------------


def test_without_facts_the_samples_and_the_kit_say_how_to_record_them(tmp_path: Path) -> None:
    """(The reference's point records them on a first validation: tests/integration.)"""
    assignment = load_assignment(_new(tmp_path))
    docker = DockerAPI()  # never asked: nothing is graded without facts
    samples = validate_samples(assignment, docker, language="fr", jobs=1)
    assert samples.status == "failed"
    assert "faits de la référence manquent" in samples.sentence
    kit = validate_kit(assignment)
    assert kit.status == "failed"
    assert "faits de la référence manquent" in kit.sentence


def test_the_scaffolds_kit_passes(tmp_path: Path) -> None:
    finding = validate_kit(_with_facts(_new(tmp_path)))
    assert finding.ok, finding


def test_a_reference_file_copied_into_the_assignment_fails_the_kit(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    shutil.copyfile(folder / "reference" / "web" / "Dockerfile", folder / "solution.Dockerfile")
    finding = validate_kit(_with_facts(folder))
    assert finding.status == "failed"
    assert any("solution.Dockerfile est un fichier de la référence" in line for line in finding.details)


def test_a_statement_beside_the_checks_fails_the_kit(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    shutil.copyfile(folder / "reference" / "ENONCE.md", folder / "ENONCE.md")
    finding = validate_kit(_with_facts(folder))
    assert any("ENONCE.md est un fichier de la référence" in line for line in finding.details)


def test_a_file_naming_a_hidden_check_fails_the_kit_with_the_kits_own_sentence(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    yaml_path = folder / "assignment.yaml"
    yaml_path.write_text(
        yaml_path.read_text(encoding="utf-8").replace(
            "  web.serves_page: {points: 3}", "  web.serves_page: {points: 3, visibility: hidden}"
        ),
        encoding="utf-8",
    )
    (folder / "NOTES.md").write_text("web.serves_page compares the page.\n", encoding="utf-8")
    finding = validate_kit(_with_facts(folder))
    assert finding.status == "failed"
    assert any("NOTES.md names web.serves_page" in line for line in finding.details)


def test_validate_kit_leaves_nothing_behind_and_writes_no_kit(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    before = _files(folder)
    assert validate_kit(_with_facts(folder)).ok
    assert _files(folder) == before | {"reference/facts.json"}
    assert make_kit(load_assignment(folder), tmp_path / "kit").is_dir()  # and the kit it checked is real


# -- the samples ----------------------------------------------------------------------------------


def _result(**statuses: str) -> SubmissionResult:
    checks = [
        CheckResult(id=i.replace("_", "."), status=s, score=0.0, max_score=1.0, feedback="x")  # type: ignore[arg-type]
        for i, s in statuses.items()
    ]
    return SubmissionResult(submission="s", assignment="a", checks=checks)


def test_a_sample_matches_when_every_status_is_the_expected_one() -> None:
    assert sample_mismatches(_result(a_x="passed", a_y="failed"), {"a.x": "passed", "a.y": "failed"}) == []


def test_each_difference_from_the_expected_outcome_is_named() -> None:
    lines = sample_mismatches(
        _result(a_x="passed", a_y="passed"), {"a.x": "passed", "a.y": "failed", "a.z": "passed"}
    )
    assert lines == ["a.y : passed (attendu : failed)", "a.z : absente (attendu : passed)"]
    lines = sample_mismatches(_result(a_x="passed"), {})
    assert lines == ["a.x : passed (attendu : absente de expected.yaml)"]


def test_a_failure_without_feedback_does_not_match() -> None:
    result = SubmissionResult(
        submission="s", assignment="a", checks=[CheckResult("a.x", "failed", 0.0, 1.0, feedback=" ")]
    )
    assert sample_mismatches(result, {"a.x": "failed"}) == ["a.x échoue sans explication pour l'étudiant."]


def test_cours2s_samples_are_the_projects_sample_class_and_a_folder_of_its_own_comes_first(
    tmp_path: Path,
) -> None:
    assert samples_folder(load_assignment(find_assignment("cours2"))) == ROOT / "submissions"
    assert samples_folder(load_assignment(_new(tmp_path))) == tmp_path / "demo" / "samples"
    shutil.rmtree(tmp_path / "demo" / "samples")
    assert samples_folder(load_assignment(tmp_path / "demo")) is None


def test_samples_without_expected_outcomes_fail_before_anything_is_graded(tmp_path: Path) -> None:
    folder = _new(tmp_path)
    (folder / "samples" / "expected.yaml").unlink()
    finding = validate_samples(_with_facts(folder), DockerAPI(), language="fr", jobs=1)
    assert finding.status == "failed"
    assert "expected.yaml manque" in finding.sentence
    (folder / "samples" / "expected.yaml").write_text("copies-to-wrong-folder: [passed]\n", encoding="utf-8")
    finding = validate_samples(load_assignment(folder), DockerAPI(), language="fr", jobs=1)
    assert finding.status == "failed"
    assert "doit associer chaque exemple" in finding.sentence


def test_an_error_outweighs_a_failure_which_outweighs_a_pass() -> None:
    passed, failed, error = Finding("passed", ""), Finding("failed", ""), Finding("error", "")
    assert exit_status([passed, passed]) == "passed"
    assert exit_status([passed, failed]) == "failed"
    assert exit_status([failed, error, passed]) == "error"


def test_validate_takes_the_usual_assignment_option_and_its_own() -> None:
    args = grader._parser().parse_args(
        ["validate", "--assignment", "x", "--record", "--no-samples", "--jobs", "3"]
    )
    assert (args.assignment, args.record, args.no_samples, args.jobs) == ("x", True, True, 3)


# -- the wheel ------------------------------------------------------------------------------------


def test_the_wheel_carries_the_templates_and_new_works_from_it(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {
        f"harness/templates/new/{p.relative_to(TEMPLATES).as_posix()}"
        for p in TEMPLATES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert templates
    assert templates <= names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path;"
        "from harness.scaffold import scaffold; print(scaffold('lab', Path(sys.argv[2])))"
    )
    ran = subprocess.run(
        [sys.executable, "-P", "-c", probe, str(site), str(tmp_path / "labs")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert _files(tmp_path / "labs" / "lab") == _files(_new(tmp_path / "here", "lab"))
