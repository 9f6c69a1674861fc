"""Engine steps and answers as localized text and buttons, shared by Telegram, the terminal and the digest.

Screens are plain text (no markup), so nothing a reporter typed can break formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import callbacks
from .collation import sort_key
from .flows.dates import Period, is_unsure
from .flows.engine import Ask, EditMenu, Problem, Review, Step, actions
from .flows.model import NO, YES, Flow, Question, QuestionType
from .flows.regions import OTHER_COUNTRY, REGIONS, localized, region_texts
from .i18n import gettext_for

CHECKED, UNCHECKED = "✅", "▫️"
MAX_MESSAGE = 4096
ERASE = callbacks.ERASE
"""The one-tap way out under every questionnaire screen; the conversation handles it before the engine."""


@dataclass(frozen=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True)
class Screen:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    typed: bool = False
    """Answered by typing (a text, number or date, a place abroad): there a typed number is an answer."""


def question_title(flow: Flow, question: Question, lang: str) -> str:
    return flow.text(question.label or question.text, lang)


def render_step(flow: Flow, step: Step, lang: str) -> Screen:
    if isinstance(step, Ask):
        return _render_ask(flow, step, lang)
    if isinstance(step, Review):
        return _render_review(flow, step, lang)
    if isinstance(step, EditMenu):
        return _render_edit_menu(flow, step, lang)
    raise TypeError(f"{type(step).__name__} has no screen")


CONSTRAINT_PROBLEMS = ("number_too_small", "number_too_big", "text_too_long")
REQUIRED_PROBLEMS = ("choose_at_least_one", "expects_file", "text_empty")


def render_problem(problem: Problem, lang: str, flow: Flow | None = None, question: Question | None = None) -> str:
    """The bot's explanation, or the flow's own constraint/required message for this question."""
    if flow is not None and question is not None:
        if question.constraint_message and problem.code in CONSTRAINT_PROBLEMS:
            return flow.text(question.constraint_message, lang)
        if question.required_message and problem.code in REQUIRED_PROBLEMS and question.required:
            return flow.text(question.required_message, lang)
    _ = gettext_for(lang)
    messages = {
        "stale": _("That button belongs to an earlier question."),
        "use_buttons": _("Please answer with one of the buttons."),
        "not_a_number": _("Please write a number, for example 25, “about 40” or “40–50”."),
        "number_too_small": _("The number must be at least {limit}."),
        "number_too_big": _("The number must be at most {limit}."),
        "text_empty": _("Please write a few words."),
        "text_too_long": _("This text is too long ({length} characters). Please shorten it to {limit} characters."),
        "date_format": _(
            "I could not read this date. Write, for example, “yesterday”, “in September”, “since September”, "
            "“early October”, 15.09.2026 or 01.09.2026–20.10.2026, or press “Not sure”."
        ),
        "date_future": _("This date is in the future. Please check it."),
        "date_order": _("The period ends before it starts. Please check the dates."),
        "unsupported_input": _("Please reply with text or a button, not a sticker, voice message or file."),
        "file_not_expected": _("This question needs an answer in text or with the buttons, not a file."),
        "expects_file": _("Please send a file (a photo, document, voice message or video), or press “Done”."),
        "too_many_files": _("You have attached {limit} files, the maximum for this question. Press “Done”."),
        "files_full": _("This report already has {limit} files, the most it can take."),
        "choose_at_least_one": _("Please choose at least one option, then press “Done”."),
    }
    return messages[problem.code].format(**problem.params)


def format_answer(flow: Flow, question: Question, answer: Any, lang: str) -> str:
    _ = gettext_for(lang)
    if answer is None:
        return _("(skipped)")
    kind = question.type
    if kind is QuestionType.YESNO:
        return _("Yes") if answer == YES else _("No")
    if kind is QuestionType.CHOICE:
        option = question.option(answer)
        return flow.text(option.text, lang) if option else str(answer)
    if kind is QuestionType.MULTI:
        return "; ".join(
            flow.text(option.text, lang) if (option := question.option(value)) else str(value) for value in answer
        )
    if kind is QuestionType.DATE:
        return _("not sure") if is_unsure(answer) else _format_period(answer)
    if kind is QuestionType.NUMBER:
        return _format_number(answer)
    if kind is QuestionType.REGION:
        return format_region(answer, lang)
    if kind is QuestionType.ATTACHMENTS:
        return _("files attached: {count}").format(count=len(answer))
    return str(answer)


def _format_period(answer: dict[str, Any]) -> str:
    """The period understood, and the reporter's words when they said more than digits can show:
    "01.09.2026 – 01.12.2026 (с сентября)"."""
    period = Period.from_json(answer)
    start, end = period.start.strftime("%d.%m.%Y"), period.end.strftime("%d.%m.%Y")
    shown = start if start == end else f"{start} – {end}"
    words = answer.get("words") or ""
    return f"{shown} ({words})" if any(char.isalpha() for char in words) else shown


def _format_number(answer: Any) -> str:
    """ "40", "40–50", "≈ 40", "≈ 40–50", "≥ 100" (more than), "≤ 10" (less than)."""
    if not isinstance(answer, dict):
        return str(answer)
    low, high = answer.get("min"), answer.get("max")
    about = "≈ " if answer.get("approx") else ""
    if low is None:
        return f"≤ {high}"
    if high is None:
        return f"≥ {low}"
    return f"{about}{low}" if low == high else f"{about}{low}–{high}"


def format_region(answer: dict[str, str], lang: str) -> str:
    _ = gettext_for(lang)
    if answer.get("country") == OTHER_COUNTRY:
        return _("Another country: {place}").format(place=answer.get("place", ""))
    country = REGIONS.get(answer.get("country", ""))
    region = region_texts(answer.get("region", ""))
    parts = [localized(country.name, lang) if country else answer.get("country", "")]
    if region:
        parts.append(localized(region, lang))
    return ", ".join(parts)


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut at line breaks where possible so each part fits into one Telegram message."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def _render_ask(flow: Flow, step: Ask, lang: str) -> Screen:
    _ = gettext_for(lang)
    question = step.question
    lines = [flow.text(question.text, lang)]
    if question.hint:
        lines.append(flow.text(question.hint, lang))
    if question.asks and (not question.required or step.can_skip):  # every detail after a quick report too
        lines.append(_("(optional)"))
    rows: list[tuple[Button, ...]] = []
    kind, qid = question.type, question.id
    if kind is QuestionType.YESNO:
        rows.append((Button(_("Yes"), actions.option(qid, YES)), Button(_("No"), actions.option(qid, NO))))
    elif kind is QuestionType.CHOICE:
        rows.extend((Button(flow.text(o.text, lang), actions.option(qid, o.id)),) for o in question.options)
    elif kind is QuestionType.MULTI:
        chosen = step.pending or []
        for option in question.options:
            mark = CHECKED if option.id in chosen else UNCHECKED
            rows.append((Button(f"{mark} {flow.text(option.text, lang)}", actions.option(qid, option.id)),))
        lines.append(_("When you have chosen everything that applies, press “Done”."))
    elif kind is QuestionType.REGION:
        rows.extend(_region_rows(question, step.pending, lang))
        if isinstance(step.pending, dict) and step.pending.get("country") == OTHER_COUNTRY:
            lines.append(_("Write the country (and town, if you wish)."))
    elif kind is QuestionType.ATTACHMENTS and step.pending:
        lines.append(_("Files received: {count}. Send more or press “Done”.").format(count=len(step.pending)))
    elif kind is QuestionType.DATE:
        rows.append((Button(_("Not sure"), actions.nav(qid, "unsure")),))
    if step.offers_full:
        rows.append((Button(_("📋 Answer step by step instead"), actions.nav(qid, "full")),))
    rows.append(_navigation_row(step, _))
    if step.can_finish:
        rows.append((Button(_("✅ Finish and review"), actions.nav(qid, "finish")),))
    rows.append(erase_row(lang))
    typed = kind in (QuestionType.TEXT, QuestionType.NUMBER, QuestionType.DATE) or (
        step.pending == {"country": OTHER_COUNTRY}
    )
    return Screen("\n\n".join(lines), tuple(row for row in rows if row), typed)


def erase_row(lang: str) -> tuple[Button, ...]:
    _ = gettext_for(lang)
    return (Button(_("🧹 Erase and leave"), ERASE),)


def _region_rows(question: Question, pending: Any, lang: str) -> list[tuple[Button, ...]]:
    _ = gettext_for(lang)
    country = REGIONS.get(pending.get("country", "")) if isinstance(pending, dict) else None
    if country is None and not isinstance(pending, dict):
        rows = [
            (Button(localized(REGIONS[code].name, lang), actions.country(question.id, code)),)
            for code in question.countries
        ]
        rows.append((Button(_("Another country"), actions.country(question.id, OTHER_COUNTRY)),))
        return rows
    rows = []
    if country is not None:
        names = {code: localized(texts, lang) for code, texts in country.regions.items()}
        ordered = sorted(names, key=lambda code: sort_key(names[code], lang))
        buttons = [Button(names[code], actions.region(question.id, code)) for code in ordered]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(_("« Other countries"), actions.nav(question.id, "countries")),))
    return rows


def _navigation_row(step: Ask, _) -> tuple[Button, ...]:
    question = step.question
    row = []
    if step.can_back:
        row.append(Button(_("« Back"), actions.nav(question.id, "back")))
    if step.can_skip:
        row.append(Button(_("Skip »"), actions.nav(question.id, "skip")))
    if question.type in (QuestionType.MULTI, QuestionType.ATTACHMENTS):
        row.append(Button(_("Done ✓"), actions.nav(question.id, "done")))
    if question.type is QuestionType.INFO:
        row.append(Button(_("Continue »"), actions.nav(question.id, "next")))
    return tuple(row)


def _render_review(flow: Flow, step: Review, lang: str) -> Screen:
    _ = gettext_for(lang)
    lines = [_("Please check your report before sending it:"), ""]
    for question, answer in step.items:
        lines.append(f"▪️ {question_title(flow, question, lang)}")
        lines.append(f"   {format_answer(flow, question, answer, lang)}")
    offer = (
        _(
            "You can send the report as it is. If you have a minute, a few more questions would make it more "
            "useful; each one can be skipped."
        )
        if step.more
        else ""
    )
    text = "\n".join(lines)
    limit = MAX_MESSAGE - 200 - len(offer)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if offer:
        text = f"{text}\n\n{offer}"
    buttons = (
        (Button(_("✅ Send the report"), actions.CONFIRM),),
        *([(Button(_("➕ Answer more questions"), actions.MORE),)] if step.more else []),
        (Button(_("✏️ Change an answer"), actions.EDIT), Button(_("🗑 Delete the report"), actions.CANCEL)),
        erase_row(lang),
    )
    return Screen(text, buttons)


def _render_edit_menu(flow: Flow, step: EditMenu, lang: str) -> Screen:
    _ = gettext_for(lang)
    rows = [(Button(question_title(flow, q, lang)[:60], actions.edit(q.id)),) for q in step.questions]
    rows.append((Button(_("« Back to the review"), actions.REVIEW),))
    rows.append(erase_row(lang))
    return Screen(_("Which answer do you want to change?"), tuple(rows))
