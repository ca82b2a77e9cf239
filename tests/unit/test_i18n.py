"""Every student-facing message has its English translation, and the compiled catalogs are current.

Two kinds of catalog: the harness's (``harness/locale``, messages of ``harness/`` and ``grader.py``)
and each bundled assignment's (``checks/NAME/locale``, messages of its own Python files). At run
time the assignment's is asked first, then the harness's.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from harness.assignment import checks_root, installed_assignments, load_assignment
from harness.i18n import (
    ASSIGNMENT_DOMAIN,
    DOMAIN,
    LOCALE_DIR,
    _,
    ngettext,
    set_language,
    source_messages,
    untranslated_messages,
    use_assignment,
)

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "ngettext": (1, 2)}
#: What scripts/i18n.sh leaves out of an assignment's messages.
NOT_MESSAGES = [".*", "._", "__pycache__", "reference", "samples", "locale"]


def _messages(found: Iterator[tuple[object, ...]]) -> set[str]:
    return {_singular(entry[-3]) for entry in found}  # type: ignore[arg-type]


def _harness_messages() -> set[str]:
    found = _messages(extract_from_dir(ROOT / "harness", keywords=KEYWORDS))
    with (ROOT / "grader.py").open("rb") as cli:
        found |= _messages(extract("python", cli, keywords=KEYWORDS))
    return found


def _assignment_messages(folder: Path) -> set[str]:
    messages: set[str] = set()
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).parts[:-1]
        if any(part.startswith(".") or part in NOT_MESSAGES for part in parts):
            continue
        with path.open("rb") as source:
            messages |= _messages(extract("python", source, keywords=KEYWORDS))
    return messages


#: (name, locale folder, domain, messages of the code) of every catalog the project ships.
CATALOGS = [("harness", LOCALE_DIR, DOMAIN, _harness_messages)] + [
    (
        name,
        checks_root() / name / "locale",
        ASSIGNMENT_DOMAIN,
        lambda n=name: _assignment_messages(checks_root() / n),
    )
    for name in installed_assignments()
]


def _singular(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _complete(string: str | tuple[str, ...] | list[str] | None) -> bool:
    if string is None:
        return False
    return bool(string) if isinstance(string, str) else all(string)


def _compiled(
    compiled: gettext.NullTranslations, message_id: str | tuple[str, ...] | list[str]
) -> str | tuple[str, ...]:
    if isinstance(message_id, str):
        return compiled.gettext(message_id)
    return (
        compiled.ngettext(message_id[0], message_id[1], 1),
        compiled.ngettext(message_id[0], message_id[1], 2),
    )


@pytest.mark.parametrize(("name", "locale", "domain", "messages"), CATALOGS, ids=[c[0] for c in CATALOGS])
def test_every_message_of_the_code_is_translated_to_english(
    name: str, locale: Path, domain: str, messages: object
) -> None:
    po = locale / "en" / "LC_MESSAGES" / f"{domain}.po"
    assert po.is_file(), f"{name} has no English catalog {po} (run scripts/i18n.sh, then translate)"
    with po.open("rb") as handle:
        catalog = read_po(handle)
    translated = {_singular(m.id) for m in catalog if m.id and _complete(m.string)}
    missing = sorted(messages() - translated)  # type: ignore[operator]
    assert not missing, f"{name}: untranslated (run scripts/i18n.sh, then translate): {missing}"


@pytest.mark.parametrize(("name", "locale", "domain", "messages"), CATALOGS, ids=[c[0] for c in CATALOGS])
def test_the_compiled_catalog_matches_the_po_file(
    name: str, locale: Path, domain: str, messages: object
) -> None:
    with (locale / "en" / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        catalog = read_po(handle)
    compiled = gettext.translation(domain, localedir=locale, languages=["en"])
    stale = [m.id for m in catalog if m.id and _complete(m.string) and _compiled(compiled, m.id) != m.string]
    assert not stale, f"{name}: {domain}.mo is older than {domain}.po (run scripts/i18n.sh): {stale[:3]}"


def test_cours2_messages_live_in_its_own_catalog_not_the_harness_one() -> None:
    assert "cours2" in installed_assignments()
    own = _assignment_messages(checks_root() / "cours2")
    assert own, "cours2's checks say nothing through _()?"
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        harness = {_singular(m.id) for m in read_po(handle) if m.id}
    assert not (own - _harness_messages()) & harness, "the harness catalog still carries cours2's sentences"


def test_the_run_time_extraction_finds_what_pybabel_finds() -> None:
    """The --lang en warning counts the same messages as scripts/i18n.sh extracts."""
    for name in installed_assignments():
        assert set(source_messages(checks_root() / name)) == _assignment_messages(checks_root() / name), name


def test_the_language_switch_translates_and_french_is_the_default() -> None:
    try:
        assert _("La remise est vide.") == "La remise est vide."
        set_language("en")
        assert _("La remise est vide.") == "The submission is empty."
    finally:
        set_language("fr")


# -- an assignment's own catalog -----------------------------------------------------------------

HARNESS_SENTENCE = "La remise est vide."
CHECK_FILE = """from harness import _, check
from harness.i18n import ngettext


@check("demo.says")
def test_says(grading):
    assert grading, _("Le site ne répond pas.")
    assert grading, ngettext("{n} page manque.", "{n} pages manquent.", 2)
    assert grading, _("La remise est vide.")
"""


def _lab(root: Path, translations: dict[str | tuple[str, str], str | tuple[str, str]] | None) -> Path:
    """An assignment folder whose check says two sentences of its own and one of the harness's."""
    root.mkdir(parents=True)
    (root / "assignment.yaml").write_text("id: demo\nchecks:\n  demo.says: {points: 1}\n", encoding="utf-8")
    (root / "test_demo.py").write_text(CHECK_FILE, encoding="utf-8")
    (root / "reference").mkdir()
    (root / "reference" / "app.py").write_text('_("Une phrase de la solution.")\n', encoding="utf-8")
    if translations is not None:
        catalog = Catalog(locale="en", domain=ASSIGNMENT_DOMAIN)
        for message, string in translations.items():
            catalog.add(message, string)
        target = root / "locale" / "en" / "LC_MESSAGES"
        target.mkdir(parents=True)
        with (target / f"{ASSIGNMENT_DOMAIN}.mo").open("wb") as handle:
            write_mo(handle, catalog)
    return root


@pytest.fixture
def english() -> Iterator[None]:
    set_language("en")
    try:
        yield
    finally:
        use_assignment(None)
        set_language("fr")


@pytest.mark.usefixtures("english")
def test_an_assignment_catalog_is_asked_first_then_the_harness_one(tmp_path: Path) -> None:
    lab = _lab(
        tmp_path / "lab",
        {
            "Le site ne répond pas.": "The site does not answer.",
            ("{n} page manque.", "{n} pages manquent."): ("{n} page is missing.", "{n} pages are missing."),
            "Aucune remise dans {path}.": "The lab's own wording for {path}.",
        },
    )
    assert _("Le site ne répond pas.") == "Le site ne répond pas."  # not loaded yet
    load_assignment(lab)
    assert _("Le site ne répond pas.") == "The site does not answer."
    assert ngettext("{n} page manque.", "{n} pages manquent.", 2) == "{n} pages are missing."
    assert _(HARNESS_SENTENCE) == "The submission is empty."  # the harness's, through the fallback
    assert _("Aucune remise dans {path}.") == "The lab's own wording for {path}."  # the lab's wins
    assert untranslated_messages(lab, "en") == []


@pytest.mark.usefixtures("english")
def test_what_an_assignment_leaves_untranslated_is_known(tmp_path: Path) -> None:
    partial = _lab(tmp_path / "partial", {"Le site ne répond pas.": "The site does not answer."})
    assert untranslated_messages(partial, "en") == ["{n} page manque."]
    bare = _lab(tmp_path / "bare", None)
    assert untranslated_messages(bare, "en") == ["Le site ne répond pas.", "{n} page manque."]
    assert set(source_messages(bare)) == {"Le site ne répond pas.", "{n} page manque.", HARNESS_SENTENCE}
    assert untranslated_messages(bare, "fr") == []  # French is the source: nothing to translate
    load_assignment(bare)
    assert _("Le site ne répond pas.") == "Le site ne répond pas."
    assert _(HARNESS_SENTENCE) == "The submission is empty."
