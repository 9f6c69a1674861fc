"""The questionnaire state machine: (flow, draft, input) -> outcome. Pure: no Telegram, no SQL, no I/O.

A draft remembers which questions were passed (`visited`) and their answers. The next question is always
the first one, in flow order, whose `when` holds and that was not passed yet; when none is left the
reporter sees the review. Back goes to the previous passed question, Edit jumps to any of them; answering
then continues with whatever is still open, so branches opened by an edit are asked before the review.
Buttons carry actions naming the question they belong to, so a press on an old message is recognised.

A draft's scope says which questions are open. "full": all of them. "quick": only the flow's quick questions,
so a report can be sent within a minute; its review offers the rest ("more"), and its first screen offers the
whole questionnaire instead ("full"). "more": the rest of a quick report, every detail optional, with a way
to the review on every screen. Two inputs are taken where a strict questionnaire would refuse them: a file on
a quick text screen goes to the flow's attachments question, and text typed on the first screen of buttons is
the reporter's description (as is story-length text typed on any screen of buttons right after the description:
the story goes on in a second message). On the region screen a few typed words that name one place ("в Андижане",
"Lebap") answer it.

Date and number answers keep what the reporter typed beside what the bot understood (dates.py, numbers.py):
- date: {"start": "2026-09-01", "end": "2026-12-01", "words": "с сентября"}, plus "approx": true for "early
  October" and the like; {"unsure": true} from the "Not sure" button. Answers stored before words existed
  have only start and end.
- number: a plain number when exact ("60 кг" is 60); otherwise {"min": 40, "max": 50, "words": "40-50"},
  {"min": 40, "max": 40, "approx": true, "words": "около 40"}, or open at one end with null ("более 100":
  {"min": 100, "max": null, ...}). Every bound given must lie within the question's min and max; conditions
  (gt/ge/lt/le) compare numbers.number_value: the middle of a range, the known bound of an open one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .. import callbacks
from .dates import UNSURE, DateError, date_answer, parse_period
from .model import NO, YES, Flow, Question, QuestionType
from .numbers import NumberError, parse_amount, plain
from .regions import OTHER_COUNTRY, REGIONS, find_place

QUESTION, REVIEW, EDIT = "question", "review", "edit"
QUICK, FULL, MORE = "quick", "full", "more"
MAX_PLACE_LENGTH = 100
MAX_PLACE_WORDS = 4
"""Text this short on the region screen may name the place ("в Андижане", "Lebap"); longer is a story."""
STORY_MIN_LENGTH = 20
"""Text shorter than this typed on a screen of buttons is an attempt to answer ("2", "да") or a greeting, not
the reporter's story: it is not taken as the description."""
MAX_NUMBER_WORDS = 200


# ---- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """A button press; `action` is what the button was built with (see `actions`)."""

    action: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class File:
    """A sanitized attachment the front-end has already stored under `ref`."""

    ref: str
    kind: str


@dataclass(frozen=True)
class Unsupported:
    """Anything else the reporter sent: a sticker, a voice note on a text question, a contact..."""

    kind: str


Input = Press | Text | File | Unsupported


class actions:
    """Builders of button actions, in the format of bot/callbacks.py (which also reads them back)."""

    @staticmethod
    def option(question: str, option: str) -> str:
        return callbacks.option(question, option)

    @staticmethod
    def country(question: str, country: str) -> str:
        return callbacks.country(question, country)

    @staticmethod
    def region(question: str, region: str) -> str:
        return callbacks.region(question, region)

    @staticmethod
    def nav(question: str, move: str) -> str:
        """move: back, skip, done, next (info), countries (back to the country list), finish (scope more:
        straight to the review), full (the first quick screen: the whole questionnaire instead)."""
        return callbacks.nav(question, move)

    CONFIRM = callbacks.review("confirm")
    EDIT = callbacks.review("edit")
    CANCEL = callbacks.review("cancel")
    REVIEW = callbacks.review("show")
    MORE = callbacks.review("more")
    """On the review of a quick report: answer the questions it left open."""

    @staticmethod
    def edit(question: str) -> str:
        return callbacks.edit(question)


# ---- state and results ----------------------------------------------------------------------------------


@dataclass
class Draft:
    flow_id: str
    flow_version: int
    answers: dict[str, Any] = field(default_factory=dict)
    visited: list[str] = field(default_factory=list)
    screen: str = QUESTION
    current: str | None = None
    pending: Any = None
    scope: str = FULL
    """QUICK, FULL or MORE (see the module's docstring); drafts stored before scopes existed are FULL."""

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "flow_version": self.flow_version,
            "answers": self.answers,
            "visited": self.visited,
            "screen": self.screen,
            "current": self.current,
            "pending": self.pending,
            "scope": self.scope,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        return cls(**data)


@dataclass(frozen=True)
class Ask:
    question: Question
    pending: Any
    can_back: bool
    can_skip: bool
    """False on an attachments question once files arrived: then only Done fits."""
    can_finish: bool = False
    """Scope more: the reporter may go straight to the review."""
    offers_full: bool = False
    """The first screen of a quick report: the whole questionnaire may be chosen instead."""


@dataclass(frozen=True)
class Review:
    items: tuple[tuple[Question, Any], ...]
    more: bool = False
    """A quick report with questions still open: they may be answered (`actions.MORE`)."""


@dataclass(frozen=True)
class EditMenu:
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Submitted:
    answers: dict[str, Any]
    urgent: bool


@dataclass(frozen=True)
class Cancelled:
    pass


Step = Ask | Review | EditMenu | Submitted | Cancelled


@dataclass(frozen=True)
class Problem:
    """Why an input was not accepted; `code` picks the message, `params` fill it in."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    draft: Draft
    step: Step
    problem: Problem | None = None
    event: str | None = None
    """What just happened: "answered" (an answer was recorded, or the report confirmed or cancelled),
    "moved" (Back, a question picked to edit, more, full, finish), "updated" (same screen, changed selection),
    "file_added", "described" (typed text was filed under the description: on the first screen of buttons, or
    more of the story right after it; the screen stays), or None."""
    filed_under: str | None = None
    """The question an input was recorded under when that is not the question on screen: the description
    ("described"), or the attachments question for a file sent on a quick text screen ("file_added")."""


# ---- public functions -----------------------------------------------------------------------------------


def start(flow: Flow, quick: bool = False) -> Outcome:
    """A new draft; `quick` asks only the flow's quick questions, when it has any."""
    draft = Draft(flow.id, flow.version, scope=QUICK if quick and flow.quick_questions else FULL)
    _advance(flow, draft)
    return Outcome(draft, view(flow, draft))


def view(flow: Flow, draft: Draft) -> Step:
    if draft.screen == REVIEW:
        more = draft.scope != FULL and _next_open(flow, draft, quick_only=False) is not None
        return Review(tuple(_review_items(flow, draft)), more)
    if draft.screen == EDIT:
        return EditMenu(tuple(question for question, _ in _review_items(flow, draft)))
    question = _current(flow, draft)
    has_files = question.type is QuestionType.ATTACHMENTS and bool(draft.pending)
    return Ask(
        question=question,
        pending=draft.pending,
        can_back=_previous(flow, draft, question.id) is not None,
        can_skip=question.asks and _skippable(draft, question) and not has_files,
        can_finish=draft.scope == MORE,
        offers_full=draft.scope == QUICK and _is_first_quick(flow, question),
    )


def accepts_file(flow: Flow, draft: Draft) -> bool:
    """Whether a file sent now would be taken: lets the front-end refuse before downloading anything."""
    target = _file_target(flow, draft)
    return target is not None and len(_files(draft, target)) < target.max_files


def attached_files(flow: Flow, draft: Draft) -> int:
    """How many files the question that takes a file now holds (0 where no file is taken): the count to
    acknowledge after an album."""
    target = _file_target(flow, draft)
    return 0 if target is None else len(_files(draft, target))


def effective_answers(flow: Flow, answers: dict[str, Any]) -> dict[str, Any]:
    """Answers to questions that still apply, in flow order: edits can close a branch after the fact."""
    result: dict[str, Any] = {}
    for question in flow.questions:
        if question.asks and question.id in answers and question.applies(result):
            result[question.id] = answers[question.id]
    return result


def step(flow: Flow, draft: Draft, received: Input, today: date) -> Outcome:
    if draft.screen == QUESTION:
        return _on_question(flow, draft, _current(flow, draft), received, today)
    if draft.screen == REVIEW:
        return _on_review(flow, draft, received)
    return _on_edit_menu(flow, draft, received)


# ---- screens --------------------------------------------------------------------------------------------


def _on_review(flow: Flow, draft: Draft, received: Input) -> Outcome:
    if isinstance(received, Press):
        if received.action == actions.CONFIRM:
            answers = effective_answers(flow, draft.answers)
            return Outcome(draft, Submitted(answers, flow.is_urgent(answers)), event="answered")
        if received.action == actions.CANCEL:
            return Outcome(draft, Cancelled(), event="answered")
        if received.action == actions.EDIT:
            draft.screen = EDIT
            return Outcome(draft, view(flow, draft), event="updated")
        following = _next_open(flow, draft, quick_only=False)
        if received.action == actions.MORE and draft.scope != FULL and following is not None:
            draft.scope = MORE
            _ask(draft, following)
            return Outcome(draft, view(flow, draft), event="moved")
        return _problem(flow, draft, "stale")
    return _problem(flow, draft, "use_buttons")


def _on_edit_menu(flow: Flow, draft: Draft, received: Input) -> Outcome:
    if not isinstance(received, Press):
        return _problem(flow, draft, "use_buttons")
    if received.action == actions.REVIEW:
        draft.screen = REVIEW
        return Outcome(draft, view(flow, draft), event="updated")
    pressed = callbacks.decode(received.action)
    question_id = pressed.args[0] if pressed is not None and pressed.kind == callbacks.EDIT else ""
    question = flow.question(question_id)
    editable = {item.id for item in view(flow, draft).questions}  # type: ignore[union-attr]
    if question is None or question_id not in editable:
        return _problem(flow, draft, "stale")
    _ask(draft, question)
    return Outcome(draft, view(flow, draft), event="moved")


def _on_question(flow: Flow, draft: Draft, question: Question, received: Input, today: date) -> Outcome:
    if isinstance(received, Press):
        pressed = callbacks.decode(received.action)
        answering = (callbacks.OPTION, callbacks.COUNTRY, callbacks.REGION, callbacks.NAV)
        if pressed is None or pressed.kind not in answering or pressed.args[0] != question.id:
            return _problem(flow, draft, "stale")
        kind, value = pressed.kind, pressed.args[1]
        if kind == callbacks.NAV:
            return _navigate(flow, draft, question, value)
        return _press(flow, draft, question, kind, value)
    if isinstance(received, Text):
        return _type(flow, draft, question, received.text, today)
    if isinstance(received, File):
        return _take_file(flow, draft, question, received)
    if question.type is QuestionType.ATTACHMENTS:
        return _problem(flow, draft, "expects_file")
    return _problem(flow, draft, "file_not_expected" if received.kind == "file" else "unsupported_input")


def _navigate(flow: Flow, draft: Draft, question: Question, move: str) -> Outcome:
    if move == "back":
        previous = _previous(flow, draft, question.id)
        if previous is None:
            return _problem(flow, draft, "stale")
        _ask(draft, previous)
        return Outcome(draft, view(flow, draft), event="moved")
    if move == "skip" and question.type is QuestionType.ATTACHMENTS and draft.pending:
        return _answer(flow, draft, question, list(draft.pending))  # a Skip left from before the files: keep them
    if move == "skip" and _skippable(draft, question):
        return _answer(flow, draft, question, None)
    if move == "finish" and draft.scope == MORE:
        return _finish(flow, draft, question)
    if move == "full" and draft.scope == QUICK and _is_first_quick(flow, question):
        draft.scope = FULL
        _advance(flow, draft)
        return Outcome(draft, view(flow, draft), event="moved")
    if move == "next" and question.type is QuestionType.INFO:
        return _answer(flow, draft, question, None)
    if move == "unsure" and question.type is QuestionType.DATE:
        return _answer(flow, draft, question, dict(UNSURE))
    if move == "countries" and question.type is QuestionType.REGION:
        draft.pending = None
        return Outcome(draft, view(flow, draft), event="updated")
    if move == "done" and question.type is QuestionType.MULTI:
        chosen = [option.id for option in question.options if option.id in (draft.pending or [])]
        if not chosen and question.required:
            return _problem(flow, draft, "choose_at_least_one")
        return _answer(flow, draft, question, chosen or None)
    if move == "done" and question.type is QuestionType.ATTACHMENTS:
        files = list(draft.pending or [])
        if not files and question.required:
            return _problem(flow, draft, "expects_file")
        return _answer(flow, draft, question, files or None)
    return _problem(flow, draft, "stale")


def _press(flow: Flow, draft: Draft, question: Question, kind: str, value: str) -> Outcome:
    if kind == "opt" and question.type is QuestionType.YESNO and value in (YES, NO):
        return _answer(flow, draft, question, value)
    if kind == "opt" and question.type is QuestionType.CHOICE and question.option(value):
        return _answer(flow, draft, question, value)
    if kind == "opt" and question.type is QuestionType.MULTI and question.option(value):
        chosen = list(draft.pending or [])
        draft.pending = [x for x in chosen if x != value] if value in chosen else [*chosen, value]
        return Outcome(draft, view(flow, draft), event="updated")
    choosing_country = kind == "country" and question.type is QuestionType.REGION
    if choosing_country and (value in question.countries or value == OTHER_COUNTRY):
        draft.pending = {"country": value}
        return Outcome(draft, view(flow, draft), event="updated")
    if kind == "region" and question.type is QuestionType.REGION and isinstance(draft.pending, dict):
        country = REGIONS.get(draft.pending.get("country", ""))
        if country and value in country.regions:
            return _answer(flow, draft, question, {"country": country.code, "region": value})
    return _problem(flow, draft, "stale")


def _type(flow: Flow, draft: Draft, question: Question, text: str, today: date) -> Outcome:
    text = text.strip()
    kind = question.type
    if kind is QuestionType.TEXT:
        if not text:
            return _problem(flow, draft, "text_empty")
        if len(text) > question.max_length:
            return _problem(flow, draft, "text_too_long", limit=question.max_length, length=len(text))
        return _answer(flow, draft, question, text)
    if kind is QuestionType.NUMBER:
        return _type_number(flow, draft, question, text)
    if kind is QuestionType.DATE:
        try:
            period = parse_period(text, today)
        except DateError as error:
            return _problem(flow, draft, f"date_{error.reason}")
        return _answer(flow, draft, question, date_answer(period, text))
    if kind is QuestionType.REGION and draft.pending == {"country": OTHER_COUNTRY}:
        if not text:
            return _problem(flow, draft, "text_empty")
        place = text[:MAX_PLACE_LENGTH]
        return _answer(flow, draft, question, {"country": OTHER_COUNTRY, "place": place})
    if kind is QuestionType.ATTACHMENTS:
        return _problem(flow, draft, "expects_file")
    if kind is QuestionType.REGION and len(text.split()) <= MAX_PLACE_WORDS:
        chosen = draft.pending.get("country") if isinstance(draft.pending, dict) else None
        country, region = find_place(text, question.countries, chosen)
        if region is not None:
            return _answer(flow, draft, question, {"country": country, "region": region})
        if country is not None:
            draft.pending = {"country": country}
            return Outcome(draft, view(flow, draft), event="updated")
    description = _description_wanted(flow, draft, question)
    if description is not None and len(text) >= STORY_MIN_LENGTH:
        return _describe(flow, draft, description, text)
    continued = _continued_description(flow, draft, question)
    if continued is not None and len(text) >= STORY_MIN_LENGTH:
        return _describe(flow, draft, continued, f"{draft.answers[continued.id]}\n{text}")
    return _problem(flow, draft, "use_buttons")


def _describe(flow: Flow, draft: Draft, description: Question, text: str) -> Outcome:
    """Typed text filed under the description while the screen of buttons stays."""
    if len(text) > description.max_length:
        return _problem(flow, draft, "text_too_long", limit=description.max_length, length=len(text))
    _record(draft, description, text)
    return Outcome(draft, view(flow, draft), event="described", filed_under=description.id)


def _type_number(flow: Flow, draft: Draft, question: Question, text: str) -> Outcome:
    """Every bound the reporter gave must lie within the question's min and max."""
    try:
        amount = parse_amount(text)
    except NumberError:
        return _problem(flow, draft, "not_a_number")
    bounds = [bound for bound in (amount.low, amount.high) if bound is not None]
    if question.min is not None and min(bounds) < question.min:
        return _problem(flow, draft, "number_too_small", limit=plain(question.min))
    if question.max is not None and max(bounds) > question.max:
        return _problem(flow, draft, "number_too_big", limit=plain(question.max))
    return _answer(flow, draft, question, amount.to_json(" ".join(text.split())[:MAX_NUMBER_WORDS]))


# ---- helpers ----------------------------------------------------------------------------------------------


def _problem(flow: Flow, draft: Draft, code: str, **params: Any) -> Outcome:
    return Outcome(draft, view(flow, draft), Problem(code, params))


def _answer(flow: Flow, draft: Draft, question: Question, value: Any) -> Outcome:
    _record(draft, question, value)
    _advance(flow, draft)
    return Outcome(draft, view(flow, draft), event="answered")


def _record(draft: Draft, question: Question, value: Any) -> None:
    if question.asks:
        draft.answers[question.id] = value
    if question.id not in draft.visited:
        draft.visited.append(question.id)


def _advance(flow: Flow, draft: Draft) -> None:
    question = _next_open(flow, draft, quick_only=draft.scope == QUICK)
    if question is None:
        draft.screen, draft.current, draft.pending = REVIEW, None, None
    else:
        _ask(draft, question)


def _next_open(flow: Flow, draft: Draft, quick_only: bool) -> Question | None:
    answers = effective_answers(flow, draft.answers)
    for question in flow.questions:
        if question.id not in draft.visited and question.applies(answers) and (question.quick or not quick_only):
            return question
    return None


def _is_first_quick(flow: Flow, question: Question) -> bool:
    return bool(flow.quick_questions) and flow.quick_questions[0].id == question.id


def _skippable(draft: Draft, question: Question) -> bool:
    """Optional questions; in scope more every detail, because the quick report is complete without it."""
    return not question.required or (draft.scope == MORE and not question.quick)


def _finish(flow: Flow, draft: Draft, question: Question) -> Outcome:
    """Straight to the review, keeping what the screen holds (ticks, files); the report is quick again, and
    its review offers the questions still open."""
    held = draft.pending if question.type in (QuestionType.MULTI, QuestionType.ATTACHMENTS) else None
    if held and question.type is QuestionType.MULTI:
        held = [option.id for option in question.options if option.id in held]
    if held:
        _record(draft, question, list(held))
    draft.scope = QUICK
    draft.screen, draft.current, draft.pending = REVIEW, None, None
    return Outcome(draft, view(flow, draft), event="moved")


def _file_target(flow: Flow, draft: Draft) -> Question | None:
    """The question a file sent now belongs to: the attachments question on screen, or, on a quick text
    screen, the flow's attachments question when it applies to the answers so far."""
    if draft.screen != QUESTION:
        return None
    question = _current(flow, draft)
    if question.type is QuestionType.ATTACHMENTS:
        return question
    target = flow.attachments_question
    if question.quick and question.type is QuestionType.TEXT and target is not None:
        return target if target.applies(effective_answers(flow, draft.answers)) else None
    return None


def _files(draft: Draft, target: Question) -> list[Any]:
    """The files `target` holds: on its own screen they wait in `pending` until Done."""
    return list((draft.pending if target.id == draft.current else draft.answers.get(target.id)) or [])


def _take_file(flow: Flow, draft: Draft, question: Question, received: File) -> Outcome:
    target = _file_target(flow, draft)
    if target is None:
        return _problem(flow, draft, "file_not_expected", limit=question.max_files)
    files = _files(draft, target)
    if len(files) >= target.max_files:
        code = "too_many_files" if target.id == question.id else "files_full"
        return _problem(flow, draft, code, limit=target.max_files)
    files.append({"ref": received.ref, "kind": received.kind})
    if target.id == question.id:
        draft.pending = files
        return Outcome(draft, view(flow, draft), event="file_added")
    draft.answers[target.id] = files
    return Outcome(draft, view(flow, draft), event="file_added", filed_under=target.id)


def _continued_description(flow: Flow, draft: Draft, question: Question) -> Question | None:
    """The description, when text typed on a screen of buttons goes on with it: people write their story in
    several messages, and the next screen is already there when the second one arrives."""
    description = flow.description_question
    just_written = description is not None and draft.visited[-1:] == [description.id]
    return description if just_written and _on_buttons(draft, question) else None


def _on_buttons(draft: Draft, question: Question) -> bool:
    """A screen answered with buttons only (not the place written for "Another country")."""
    if question.type is QuestionType.REGION:
        return draft.pending != {"country": OTHER_COUNTRY}
    return question.type in (QuestionType.CHOICE, QuestionType.MULTI, QuestionType.YESNO)


def _description_wanted(flow: Flow, draft: Draft, question: Question) -> Question | None:
    """The description question, when text typed on `question` should be taken as the description: on the
    first screen of buttons of a full (or quick) questionnaire, before the description was given."""
    description = flow.description_question
    if description is None or description.id in draft.visited or draft.scope == MORE:
        return None
    on_buttons = question.type in (QuestionType.CHOICE, QuestionType.MULTI, QuestionType.YESNO) or (
        question.type is QuestionType.REGION and draft.pending is None
    )
    scope = flow.quick_questions if draft.scope == QUICK else flow.questions
    first = next((candidate.id for candidate in scope if candidate.asks), None)
    return description if on_buttons and question.id == first else None


def _ask(draft: Draft, question: Question) -> None:
    draft.screen, draft.current = QUESTION, question.id
    previous = draft.answers.get(question.id)
    if question.type in (QuestionType.MULTI, QuestionType.ATTACHMENTS):
        draft.pending = list(previous or [])
    else:
        draft.pending = None


def _current(flow: Flow, draft: Draft) -> Question:
    question = flow.question(draft.current or "")
    if question is None:
        raise ValueError(f"draft points at question '{draft.current}', which flow {flow.id} does not have")
    return question


def _previous(flow: Flow, draft: Draft, question_id: str) -> Question | None:
    answers = effective_answers(flow, draft.answers)
    previous = None
    for question in flow.questions:
        if question.id == question_id:
            return previous
        if question.id in draft.visited and question.applies(answers):
            previous = question
    return previous


def _review_items(flow: Flow, draft: Draft) -> list[tuple[Question, Any]]:
    """Passed questions, and questions answered without being asked (files sent on a quick text screen)."""
    answers = effective_answers(flow, draft.answers)
    return [
        (question, answers.get(question.id))
        for question in flow.questions
        if question.asks and (question.id in draft.visited or question.id in answers) and question.applies(answers)
    ]
