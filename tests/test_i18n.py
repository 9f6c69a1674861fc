"""Every user-facing string exists in every language, written in the right script, with the same
placeholders, and the template matches the source code; screens read well in every language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.flows.engine import Ask
from bot.flows.loader import load_default_flows
from bot.flows.regions import REGIONS
from bot.i18n import LANGUAGES, LOCALES_DIR, SOURCE_LANGUAGE, catalogue_path, gettext_for
from bot.render import render_step

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"\{\w*\}|%\(?\w*\)?[sd]")
# Words that stay Latin in any script: commands, placeholders, file formats, units.
LATIN_ALLOWED = re.compile(
    r"/\w+|\{\w+\}|JPEG|PNG|WEBP|MB|kg|Telegram|ISO|\bID\b"
    r"|\b(?:new|reviewing|verified|closed|since|off|open|all|add|remove|chat|admin)\b"  # keywords typed after commands
)
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN_LANGUAGES = ("uz", "tk", "en")
LATIN = re.compile(r"[A-Za-z]")
MAX_LABEL_IN_THREE = 13
"""A button sharing its row with two others gets a third of a phone's width: a longer label is cut off."""


def read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def source_messages() -> set[tuple[str, str | None]]:
    """(msgid, msgctxt) of every string the code translates."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=keywords)
    return {(message, context) for _file, _line, message, _comments, context in found}


def template_messages() -> set[tuple[str, str | None]]:
    return {(message.id, message.context) for message in read(LOCALES_DIR / "bot.pot") if message.id}


def test_template_matches_the_source_code():
    missing = source_messages() - template_messages()
    stale = template_messages() - source_messages()
    assert not missing, f"run `make messages`: not in bot.pot: {sorted(missing)}"
    assert not stale, f"run `make messages`: no longer in the code: {sorted(stale)}"


def test_every_translated_literal_is_called_through_a_keyword_pybabel_extracts():
    """`gettext_for(lang)("text")` translates at run time but is never extracted: the text would stay English."""
    unseen = re.compile(r"gettext_for\([^()]*\)\(\s*[\"']")
    found = []
    for path in (ROOT / "bot").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        found += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(lines, 1) if unseen.search(line)]
    assert found == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogue_is_complete_and_placeholders_match(lang):
    catalogue = {(message.id, message.context): message for message in read(catalogue_path(lang)) if message.id}
    for msgid, context in template_messages():
        message = catalogue.get((msgid, context))
        assert message is not None, f"{lang}: missing {msgid!r} ({context})"
        assert message.string and message.string.strip(), f"{lang}: untranslated {msgid!r}"
        assert "fuzzy" not in message.flags, f"{lang}: fuzzy {msgid!r}"
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(message.string)), (
            lang,
            msgid,
        )
        assert message.string != msgid or not LATIN.search(msgid), f"{lang}: copied from English: {msgid!r}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogue_uses_the_right_script(lang):
    for message in read(catalogue_path(lang)):
        if not message.id:
            continue
        text = LATIN_ALLOWED.sub("", message.string)
        if lang in LATIN_LANGUAGES:
            assert not CYRILLIC.search(text), f"{lang} must be Latin: {message.string!r}"
            assert "'" not in text and "`" not in text, f"{lang} needs ‘ and ’, not ASCII quotes: {message.string!r}"
        else:
            assert not LATIN.search(text), f"{lang} must be Cyrillic: {message.string!r}"


def flow_and_region_texts():
    for flow in load_default_flows():
        for question in flow.questions:
            yield from (question.text, question.hint, question.label)
            yield from (option.text for option in question.options)
        yield flow.title
    for country in REGIONS.values():
        yield country.name
        yield from country.regions.values()


def test_flow_and_region_texts_exist_in_every_language_and_script():
    for texts in flow_and_region_texts():
        if texts is None:
            continue
        assert set(texts) >= set(LANGUAGES), texts
        assert not any(CYRILLIC.search(texts[lang]) for lang in LATIN_LANGUAGES), texts
        for lang in ("ru", "kk", "uz_Cyrl"):
            assert not LATIN.search(LATIN_ALLOWED.sub("", texts[lang])), texts


def test_kazakh_uses_its_own_letters_and_uzbek_its_apostrophes():
    kazakh = " ".join(texts["kk"] for texts in flow_and_region_texts() if texts)
    uzbek = " ".join(texts["uz"] for texts in flow_and_region_texts() if texts)
    assert set("әғқңөұүі") <= set(kazakh)
    assert "o‘" in uzbek and "g‘" in uzbek and "'" not in uzbek


def question_screens(lang: str):
    """Every question of the default flows as the reporter first sees it, with Back and Skip where allowed."""
    for flow in load_default_flows():
        for question in flow.questions:
            step = Ask(question, None, can_back=True, can_skip=not question.required)
            yield question, render_step(flow, step, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_buttons_sharing_a_row_of_three_fit(lang):
    rows = [row for _question, screen in question_screens(lang) for row in screen.buttons if len(row) >= 3]
    assert rows, "no screen has three buttons in a row any more: this test checks nothing"
    for row in rows:
        labels = [button.label for button in row]
        assert all(len(label) <= MAX_LABEL_IN_THREE for label in labels), f"{lang}: too long for a third: {labels}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_optional_questions_say_so_once(lang):
    """The bot adds "(optional)" itself, so a flow's text should not say it again."""
    optional = gettext_for(lang)("(optional)").strip("()").lower()
    for question, screen in question_screens(lang):
        if question.asks and not question.required:
            assert screen.text.lower().count(optional) == 1, (lang, question.id, screen.text)
