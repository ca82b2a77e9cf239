"""The student kit: visible checks and what they need, nothing about hidden checks, no reference file."""

from __future__ import annotations

import ast
import gettext
import json
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from harness.assignment import Assignment, find_assignment, load_assignment
from harness.errors import GraderError, SpecError
from harness.grading import FACTS_FILE
from harness.i18n import untranslated_messages
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


def test_the_cours2_kit_translates_what_it_says_and_nothing_of_the_hidden_check(tmp_path: Path) -> None:
    kit = make_kit(COURS2, tmp_path)
    catalog = kit / "locale" / "en" / "LC_MESSAGES" / "messages.mo"
    assert catalog.is_file(), "cours2's English feedback ships with its kit"
    assert untranslated_messages(kit, "en") == []
    with catalog.open("rb") as mo:
        english = gettext.GNUTranslations(mo)
    hidden_only = "Pas de fichier IMAGE : rien à tirer d'un registre."  # test_registry.py's skip
    with (COURS2.directory / "locale" / "en" / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        assert gettext.GNUTranslations(mo).gettext(hidden_only) != hidden_only, "translated at home"
    assert english.gettext(hidden_only) == hidden_only, "not in the kit"
    assert not list(kit.rglob("*.po")), "the kit ships compiled catalogs only"


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
from harness import _, check

LIMIT = "shared_max"


@check("web.serves")
def test_serves(grading):
    assert grading.fact("web.index", None) == grading.assignment.threshold(LIMIT), _("Le site ne répond pas.")
"""

_HIDDEN = """\
from harness import _, check


@check("web.small")
def test_small(grading):
    size = grading.fact("web.size_bytes", 0) * grading.assignment.threshold("size_ratio")
    assert grading.fact("web.index", None), grading.assignment.threshold("shared_max")
    assert size < 10, _("L'image pèse trop : le barème secret le voit.")
"""

_TRANSLATIONS = {
    "Le site ne répond pas.": "The site does not answer.",
    "L'image pèse trop : le barème secret le voit.": "The image is too heavy: the secret scale sees it.",
}


def _demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, visible: str = _VISIBLE) -> Assignment:
    """An assignment folder with its reference, samples and English catalog inside it."""
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "assignment.yaml").write_text(_ASSIGNMENT, encoding="utf-8")
    (folder / "test_web.py").write_text(visible, encoding="utf-8")
    (folder / "test_web_hidden.py").write_text(_HIDDEN, encoding="utf-8")
    reference = folder / "reference"
    (reference / "web").mkdir(parents=True)
    (reference / "web" / "Dockerfile").write_text("FROM nginx\n", encoding="utf-8")
    facts = {"web.index": "<h1>", "web.size_bytes": 1234, "web.unused": 1}
    (reference / FACTS_FILE).write_text(json.dumps({"assignment": "demo", "facts": facts}), encoding="utf-8")
    (reference / "ENONCE.md").write_text("| `web.serves`, `web.small` | 5, 2 |\n", encoding="utf-8")
    (folder / "samples" / "good" / "web").mkdir(parents=True)
    (folder / "samples" / "good" / "web" / "Dockerfile").write_text("FROM nginx\n", encoding="utf-8")
    catalog = Catalog(locale="en", charset="utf-8")
    for french, english in _TRANSLATIONS.items():
        catalog.add(french, english)
    messages = folder / "locale" / "en" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    with (messages / "messages.po").open("wb") as po:
        write_po(po, catalog)
    with (messages / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    monkeypatch.setattr(Assignment, "reference_dir", lambda self: reference)
    return load_assignment(folder)


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
    shipped = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
    assert shipped == ["assignment.yaml", FACTS_FILE, "locale/en/LC_MESSAGES/messages.mo", "test_web.py"]


def test_the_kit_s_catalog_translates_its_checks_and_not_the_hidden_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(_demo(tmp_path, monkeypatch), tmp_path / "kits")
    with (kit / "locale" / "en" / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        english = gettext.GNUTranslations(mo)
    assert english.gettext("Le site ne répond pas.") == "The site does not answer."
    hidden = "L'image pèse trop : le barème secret le voit."
    assert english.gettext(hidden) == hidden, "a hidden check's feedback is not in the kit"
    assert english.info()["content-type"] == "text/plain; charset=utf-8", "the header is kept"
    assert b"secret" not in (kit / "locale" / "en" / "LC_MESSAGES" / "messages.mo").read_bytes()


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
