"""Student-facing text through gettext.

Message ids are the French text (the course's language); ``locale/en`` translates them.
The active language is process-wide: one grading process grades one submission in
one language.
"""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "grader"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

_translation: gettext.NullTranslations = gettext.NullTranslations()


def set_language(language: str) -> None:
    """Make ``language`` ("fr" or "en") the language of every later :func:`_` call."""
    global _translation
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if language == DEFAULT_LANGUAGE:
        _translation = gettext.NullTranslations()
    else:
        _translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])


def _(message: str) -> str:
    """Translate ``message`` (French) into the active language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)
