"""The questionnaire as data: flows, questions, options and branching conditions.

Everything here is immutable and free of Telegram and SQL, so the engine, the terminal front-end and
the digest can all share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .numbers import number_value

Texts = Mapping[str, str]
"""A text in every language of a flow, keyed by language code."""


class QuestionType(StrEnum):
    CHOICE = "choice"
    MULTI = "multi"
    YESNO = "yesno"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    REGION = "region"
    ATTACHMENTS = "attachments"
    INFO = "info"


OPTION_TYPES = (QuestionType.CHOICE, QuestionType.MULTI)
YES, NO = "yes", "no"


@dataclass(frozen=True)
class Option:
    id: str
    text: Texts


class Condition:
    """A test on earlier answers that decides whether a question is asked."""

    def holds(self, answers: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def questions(self) -> set[str]:
        """Ids of the questions this condition reads."""
        raise NotImplementedError


NUMERIC_OPERATORS = {
    "gt": lambda answer, limit: answer > limit,
    "ge": lambda answer, limit: answer >= limit,
    "lt": lambda answer, limit: answer < limit,
    "le": lambda answer, limit: answer <= limit,
}
"""Comparisons of a number answer with a limit (XLSForm's >, >=, <, <=)."""


@dataclass(frozen=True)
class Compare(Condition):
    """`question` compared with `values`: equals, not_equals, includes (multi), in, or, for numbers,
    gt/ge/lt/le with one limit (kept as text, like every value)."""

    question: str
    operator: str
    values: tuple[str, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        answer = answers.get(self.question)
        if self.operator in NUMERIC_OPERATORS:
            value = number_value(answer)  # a range counts as its middle, "more than 100" as 100
            return value is not None and NUMERIC_OPERATORS[self.operator](value, float(self.values[0]))
        if self.operator == "includes":
            return isinstance(answer, list) and any(value in answer for value in self.values)
        if self.operator == "not_equals":
            return answer is not None and answer not in self.values
        return answer in self.values

    def questions(self) -> set[str]:
        return {self.question}


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return all(part.holds(answers) for part in self.parts)

    def questions(self) -> set[str]:
        return set().union(*(part.questions() for part in self.parts))


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return any(part.holds(answers) for part in self.parts)

    def questions(self) -> set[str]:
        return set().union(*(part.questions() for part in self.parts))


@dataclass(frozen=True)
class Not(Condition):
    part: Condition

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return not self.part.holds(answers)

    def questions(self) -> set[str]:
        return self.part.questions()


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: Texts
    required: bool = True
    hint: Texts | None = None
    label: Texts | None = None
    """A short name for the review, the digest and export columns; the text is used when absent."""
    constraint_message: Texts | None = None
    """Shown instead of the bot's own message when an answer is out of range or too long."""
    required_message: Texts | None = None
    """Shown instead of the bot's own message when a required question is left without an answer."""
    options: tuple[Option, ...] = ()
    when: Condition | None = None
    urgent_if: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int = 2000
    max_files: int = 10
    countries: tuple[str, ...] = ("UZ", "KZ", "TM")
    quick: bool = False
    """Part of the quick report: asked when a reporter chooses the short way (see `Flow.quick_questions`)."""

    @property
    def asks(self) -> bool:
        """Info screens show text only and leave no answer."""
        return self.type is not QuestionType.INFO

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)

    def applies(self, answers: Mapping[str, Any]) -> bool:
        return self.when is None or self.when.holds(answers)

    def is_urgent(self, answer: Any) -> bool:
        if not self.urgent_if or answer is None:
            return False
        chosen = answer if isinstance(answer, list) else [answer]
        return any(value in self.urgent_if for value in chosen)


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    languages: tuple[str, ...]
    title: Texts
    questions: tuple[Question, ...]
    _index: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {question.id: question for question in self.questions})

    def question(self, question_id: str) -> Question | None:
        return self._index.get(question_id)

    def text(self, texts: Texts, lang: str) -> str:
        """A flow text in `lang`, falling back to the flow's first language."""
        return texts.get(lang) or texts[self.languages[0]]

    def is_urgent(self, answers: Mapping[str, Any]) -> bool:
        return any(question.is_urgent(answers.get(question.id)) for question in self.questions)

    @property
    def quick_questions(self) -> tuple[Question, ...]:
        """The quick report, in flow order; empty when the flow has no quick path."""
        return tuple(question for question in self.questions if question.quick)

    @property
    def description_question(self) -> Question | None:
        """Where the reporter's own words go when typed on a screen of buttons: the first quick text question,
        else the first required text question."""
        texts = [question for question in self.questions if question.type is QuestionType.TEXT]
        return next((q for q in texts if q.quick), None) or next((q for q in texts if q.required), None)

    @property
    def attachments_question(self) -> Question | None:
        """Where files sent on a quick text screen go: the first attachments question."""
        return next((q for q in self.questions if q.type is QuestionType.ATTACHMENTS), None)
