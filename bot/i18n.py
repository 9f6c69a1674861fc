"""Gettext catalogues from locales/<lang>/LC_MESSAGES/bot.po, compiled in memory when first used.

English is the source language: its strings are the msgids. Reading the .po files directly (through
Babel) means there is no compiled .mo file to forget to rebuild.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "bot"
SOURCE_LANGUAGE = "en"
FIRST_LANGUAGES = ("ru", "uz", "kk", "en", "tk", "uz_Cyrl")
"""The order of the language buttons; any other language with a catalogue in locales/ follows."""
OWN_NAMES = {"uz": "O‘zbekcha", "uz_Cyrl": "Ўзбекча", "tk": "Türkmençe", "kk": "Қазақша"}
"""Names Babel spells differently from how people there write them on a button."""


def _available_languages() -> tuple[str, ...]:
    found = {path.parent.parent.name for path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")} | {SOURCE_LANGUAGE}
    return tuple(sorted(found, key=lambda code: (FIRST_LANGUAGES.index(code) if code in FIRST_LANGUAGES else 99, code)))


def _own_name(code: str) -> str:
    if code in OWN_NAMES:
        return OWN_NAMES[code]
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


LANGUAGES = _available_languages()
LANGUAGE_NAMES = {code: _own_name(code) for code in LANGUAGES}
TELEGRAM_CODES = {"uz_Cyrl": None}
"""Telegram's command menus are keyed by two-letter codes; Uzbek in Cyrillic has none of its own."""


def N_(message: str) -> str:
    """Marks a string for extraction where it is translated later."""
    return message


def catalogue_path(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == SOURCE_LANGUAGE or lang not in LANGUAGES:
        return gettext.NullTranslations()
    with catalogue_path(lang).open("rb") as po_file:
        catalog = read_po(po_file, locale=lang.replace("-", "_"))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(lang: str):
    """The `_` function for one language."""
    return translations(lang).gettext


def pgettext_for(lang: str):
    """The `pgettext(context, message)` function for one language, for one English word that other languages
    say differently by use, e.g. a status on its own ("new") and heading a count ("new: 3")."""
    return translations(lang).pgettext


def match_language(language_code: str | None) -> str | None:
    """Map Telegram's language_code (e.g. "uz-UZ") to one of ours; used only to order buttons."""
    if not language_code:
        return None
    base = language_code.split("-")[0].lower()
    return base if base in LANGUAGES else None


def ordered_languages(preferred: str | None) -> list[str]:
    if preferred in LANGUAGES:
        return [preferred, *[lang for lang in LANGUAGES if lang != preferred]]
    return list(LANGUAGES)
