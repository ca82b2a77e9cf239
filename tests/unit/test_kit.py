"""The student kit: visible checks and what they need, nothing about hidden checks, no reference file."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from harness.assignment import Assignment, find_assignment, load_assignment
from harness.errors import GraderError, SpecError
from harness.grading import FACTS_FILE
from harness.kit import make_kit, strip_hidden

COURS2 = load_assignment(find_assignment("cours2"))


def _check_functions(assignment: Assignment) -> dict[str, ast.FunctionDef]:
    """Every ``@check("id")`` function of the assignment's check files, by check id."""
    found: dict[str, ast.FunctionDef] = {}
    for path in sorted(assignment.directory.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "check":
                    found[ast.literal_eval(decorator.args[0])] = node
    return found


def _strings(nodes: list[ast.FunctionDef]) -> set[str]:
    return {
        n.value
        for f in nodes
        for n in ast.walk(f)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _secrets_of_hidden_checks(assignment: Assignment) -> set[str]:
    """Hidden check ids, and the facts and thresholds that only hidden check functions name."""
    functions = _check_functions(assignment)
    hidden = {c.id for c in assignment.checks.values() if c.visibility == "hidden"}
    facts = json.loads((assignment.reference_dir() / FACTS_FILE).read_text(encoding="utf-8"))["facts"]
    names = set(facts) | set(assignment.thresholds)
    in_hidden = _strings([f for i, f in functions.items() if i in hidden]) & names
    in_visible = _strings([f for i, f in functions.items() if i not in hidden]) & names
    return hidden | (in_hidden - in_visible)


def test_the_cours2_kit_names_no_hidden_check_and_holds_no_reference_file(tmp_path: Path) -> None:
    secrets = _secrets_of_hidden_checks(COURS2)
    assert "registry.image_pullable" in secrets, "cours2 has a hidden check to leave out"
    kit = make_kit(COURS2, tmp_path)
    shipped = sorted(p for p in kit.rglob("*") if p.is_file())
    for path in shipped:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = sorted(s for s in secrets if re.search(rf"(?<![\w.]){re.escape(s)}(?!\w)", text))
        assert not leaked, f"{path.relative_to(kit)} names {leaked}"
    # The facts are the one thing taken from the reference: those of visible checks, checked above.
    reference = COURS2.reference_dir()
    reference_files = {p.read_bytes() for p in reference.rglob("*") if p.is_file() and p.name != FACTS_FILE}
    for path in shipped:
        assert path.read_bytes() not in reference_files, f"{path.relative_to(kit)} is a file of the reference"
        rel = path.relative_to(kit)
        assert rel.as_posix() == FACTS_FILE or not (reference / rel).exists(), (
            f"{rel} is a file of the reference"
        )


def test_the_cours2_kit_has_its_visible_checks_and_the_facts_they_use(tmp_path: Path) -> None:
    kit = make_kit(COURS2, tmp_path)
    shipped = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    assert "test_registry.py" not in shipped, "a file of hidden checks only: not even its name ships"
    assert {"test_siteweb.py", "test_etudiants.py", "conftest.py", "hadolint.yaml"} <= shipped
    assert not any(name.startswith(("siteweb/", "compteur/", "etudiants/")) for name in shipped)
    assert not any(name.endswith(("Dockerfile", "compose.yaml", ".go", ".sql")) for name in shipped)
    facts = json.loads((kit / FACTS_FILE).read_text(encoding="utf-8"))
    assert set(facts["facts"]) == {"etudiants.records", "siteweb.image_size_bytes"}
    loaded = load_assignment(kit)
    assert loaded.hidden_count == 1, "the kit says how many checks run only at final grading"
    assert set(loaded.checks) == {c.id for c in COURS2.checks.values() if c.visibility == "visible"}
    assert loaded.thresholds == COURS2.thresholds, "every cours2 threshold serves a visible check"


_ASSIGNMENT = """\
id: demo
parts:
  web: {kind: dockerfile, directory: web}
checks:
  web.serves: {points: 5}
  web.small: {points: 2, visibility: hidden}
thresholds:
  shared_max: 3
  size_ratio: 1.5
"""

_VISIBLE = """\
from harness import check

LIMIT = "shared_max"


@check("web.serves")
def test_serves(grading):
    assert grading.fact("web.index", None) == grading.assignment.threshold(LIMIT)
"""

_HIDDEN = """\
from harness import check


@check("web.small")
def test_small(grading):
    size = grading.fact("web.size_bytes", 0) * grading.assignment.threshold("size_ratio")
    assert grading.fact("web.index", None), grading.assignment.threshold("shared_max")
"""


def _demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, visible: str = _VISIBLE) -> Assignment:
    checks = tmp_path / "checks" / "demo"
    checks.mkdir(parents=True)
    (checks / "assignment.yaml").write_text(_ASSIGNMENT, encoding="utf-8")
    (checks / "test_web.py").write_text(visible, encoding="utf-8")
    (checks / "test_web_hidden.py").write_text(_HIDDEN, encoding="utf-8")
    reference = tmp_path / "reference" / "demo"
    reference.mkdir(parents=True)
    facts = {"web.index": "<h1>", "web.size_bytes": 1234, "web.unused": 1}
    (reference / FACTS_FILE).write_text(json.dumps({"assignment": "demo", "facts": facts}), encoding="utf-8")
    (reference / "ENONCE.md").write_text("| `web.serves`, `web.small` | 5, 2 |\n", encoding="utf-8")
    monkeypatch.setattr(Assignment, "reference_dir", lambda self: reference)
    return load_assignment(checks)


def test_facts_and_thresholds_ship_only_when_the_kit_s_code_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(_demo(tmp_path, monkeypatch), tmp_path / "kits")
    facts = json.loads((kit / FACTS_FILE).read_text(encoding="utf-8"))
    assert facts == {"assignment": "demo", "facts": {"web.index": "<h1>"}}
    loaded = load_assignment(kit)
    assert loaded.thresholds == {"shared_max": 3.0}, "size_ratio serves the hidden check only"
    assert set(loaded.checks) == {"web.serves"}
    assert loaded.hidden_count == 1
    assert sorted(p.name for p in kit.iterdir()) == ["assignment.yaml", FACTS_FILE, "test_web.py"]


def test_a_kit_file_naming_a_hidden_check_is_refused_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaky = _VISIBLE + "\n# the image size is checked by web.small at final grading\n"
    with pytest.raises(SpecError, match=r"test_web\.py.*web\.small"):
        make_kit(_demo(tmp_path, monkeypatch, visible=leaky), tmp_path / "kits")


def test_a_kit_file_naming_a_threshold_only_hidden_checks_use_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaky = _VISIBLE + "\n# size_ratio is not for you\n"
    with pytest.raises(SpecError, match=r"test_web\.py.*size_ratio"):
        make_kit(_demo(tmp_path, monkeypatch, visible=leaky), tmp_path / "kits")


def test_hidden_check_functions_are_cut_with_their_decorators() -> None:
    source = (
        "import x\n\n\n@check('a.visible')\ndef test_a():\n    pass\n\n\n"
        "@other\n@check('b.hidden')\ndef test_b():\n    secret = 1\n\n\ndef helper():\n    pass\n"
    )
    text, kept, removed = strip_hidden(source, {"b.hidden"})
    assert (kept, removed) == (1, 1)
    assert "b.hidden" not in text
    assert "secret" not in text
    assert "@other" not in text
    assert "def helper" in text
    assert "a.visible" in text


def test_a_kit_folder_never_overwrites_something_else(tmp_path: Path) -> None:
    (tmp_path / COURS2.id).mkdir()
    (tmp_path / COURS2.id / "notes.txt").write_text("mine")
    with pytest.raises(GraderError):
        make_kit(COURS2, tmp_path)
