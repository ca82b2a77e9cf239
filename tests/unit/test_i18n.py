"""Every student-facing message has its English translation, and the compiled catalog is current."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po

from harness.i18n import DOMAIN, LOCALE_DIR, _, set_language

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "ngettext": (1, 2)}


def _source_messages() -> set[str]:
    found: set[str] = set()
    for folder in ("harness", "checks"):
        for _file, _line, message, _comments, _context in extract_from_dir(ROOT / folder, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    with (ROOT / "grader.py").open("rb") as cli:
        for _line, message, _comments, _context in extract("python", cli, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _singular(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _complete(string: str | tuple[str, ...]) -> bool:
    return bool(string) if isinstance(string, str) else all(string)


def _compiled(compiled: gettext.NullTranslations, message_id: str | tuple[str, ...]) -> str | tuple[str, ...]:
    if isinstance(message_id, str):
        return compiled.gettext(message_id)
    return (
        compiled.ngettext(message_id[0], message_id[1], 1),
        compiled.ngettext(message_id[0], message_id[1], 2),
    )


def test_every_message_of_the_code_is_translated_to_english() -> None:
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {_singular(m.id) for m in catalog if m.id and _complete(m.string)}
    missing = sorted(_source_messages() - translated)
    assert not missing, f"untranslated (run scripts/i18n.sh, then translate): {missing}"


def test_the_compiled_catalog_matches_the_po_file() -> None:
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle)
    compiled = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=["en"])
    stale = [m.id for m in catalog if m.id and _complete(m.string) and _compiled(compiled, m.id) != m.string]
    assert not stale, f"grader.mo is older than grader.po (run scripts/i18n.sh): {stale[:3]}"


def test_the_language_switch_translates_and_french_is_the_default() -> None:
    try:
        assert _("La remise est vide.") == "La remise est vide."
        set_language("en")
        assert _("La remise est vide.") == "The submission is empty."
    finally:
        set_language("fr")
