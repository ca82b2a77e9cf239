"""Student-facing text through gettext.

Message ids are the French text (the course's language); ``locale/en`` translates them.
Two catalogs serve one grading: the assignment's own (``<assignment>/locale/<lang>/LC_MESSAGES/
messages.mo``, domain :data:`ASSIGNMENT_DOMAIN`) is asked first, then the harness's
(``harness/locale``, domain :data:`DOMAIN`). An assignment thus ships its feedback's English with
its folder, without a grader release, and may also reword a harness sentence.

The active language and assignment are process-wide: one grading process grades one submission
of one assignment in one language.
"""

from __future__ import annotations

import ast
import gettext
from collections.abc import Iterator
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "grader"
#: The gettext domain of an assignment's catalog (pybabel's default domain, so that its plain
#: ``pybabel extract/init/update/compile`` commands need no ``-D``).
ASSIGNMENT_DOMAIN = "messages"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
#: The functions whose first literal arguments are messages (what scripts/i18n.sh extracts).
KEYWORDS = frozenset({"_", "ngettext"})
#: Folders of an assignment that hold no checks: their Python files are not its messages.
NOT_CHECKS = frozenset({"reference", "samples", "locale", "__pycache__"})

_language = DEFAULT_LANGUAGE
_assignment_locale: Path | None = None
_translation: gettext.NullTranslations = gettext.NullTranslations()


def translation_for(language: str, assignment_locale: Path | None = None) -> gettext.NullTranslations:
    """The catalogs of ``language``: the assignment's (when it has one) over the harness's."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()  # the message ids are the French text
    harness = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])
    own = assignment_catalog(assignment_locale, language)
    if own is None:
        return harness
    own.add_fallback(harness)
    return own


def assignment_catalog(locale_dir: Path | None, language: str) -> gettext.GNUTranslations | None:
    """The assignment's own catalog of ``language``, or None when it ships none."""
    if locale_dir is None or language == DEFAULT_LANGUAGE:
        return None
    try:
        found = gettext.translation(ASSIGNMENT_DOMAIN, localedir=locale_dir, languages=[language])
    except OSError:  # FileNotFoundError when absent; an unreadable or corrupt .mo is treated alike
        return None
    return found if isinstance(found, gettext.GNUTranslations) else None


def _activate() -> None:
    global _translation
    _translation = translation_for(_language, _assignment_locale)


def set_language(language: str) -> None:
    """Make ``language`` ("fr" or "en") the language of every later :func:`_` call."""
    global _language
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    _language = language
    _activate()


def use_assignment(locale_dir: Path | None) -> None:
    """Ask the catalog in ``locale_dir`` (an assignment's ``locale/``) first from now on."""
    global _assignment_locale
    _assignment_locale = locale_dir
    _activate()


def _(message: str) -> str:
    """Translate ``message`` (French) into the active language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


# -- what an assignment leaves untranslated ------------------------------------------------------


def _check_files(assignment_dir: Path) -> Iterator[Path]:
    for path in sorted(assignment_dir.rglob("*.py")):
        parts = path.relative_to(assignment_dir).parts[:-1]
        if not NOT_CHECKS.intersection(parts) and not any(p.startswith(".") for p in parts):
            yield path


def source_messages(assignment_dir: Path) -> dict[str, str | None]:
    """The messages of an assignment's Python files: ``{singular: plural or None}``.

    The same messages as ``pybabel extract`` finds: literal first arguments of ``_()`` and
    ``ngettext()`` calls (adjacent literals joined); a file that does not parse has none.
    """
    found: dict[str, str | None] = {}
    for path in _check_files(assignment_dir):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            literals = [
                a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if name == "_" and literals:
                found.setdefault(literals[0], None)
            elif name == "ngettext" and len(literals) == 2:
                found.setdefault(literals[0], literals[1])
    return found


class _Untranslated(gettext.NullTranslations):
    """The end of a catalog chain: notes each message no catalog before it translated."""

    def __init__(self) -> None:
        super().__init__()
        self.missed: set[str] = set()

    def gettext(self, message: str) -> str:
        self.missed.add(message)
        return message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        self.missed.add(msgid1)
        return msgid1 if n == 1 else msgid2


def untranslated_messages(assignment_dir: Path, language: str) -> list[str]:
    """The assignment's messages that neither its catalog nor the harness's translates into ``language``."""
    if language == DEFAULT_LANGUAGE:
        return []
    # gettext.translation() hands out copies of its cached catalogs: this chain is ours to extend.
    chain = translation_for(language, assignment_dir / "locale")
    recorder = _Untranslated()
    chain.add_fallback(recorder)
    for singular, plural in source_messages(assignment_dir).items():
        if plural is None:
            chain.gettext(singular)
        else:
            chain.ngettext(singular, plural, 1)
            chain.ngettext(singular, plural, 2)
    return sorted(recorder.missed)
