"""Reading flow files into the model, with validation that names file, question and language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .model import (
    NO,
    OPTION_TYPES,
    YES,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Flow,
    Not,
    Option,
    Question,
    QuestionType,
)

DEFAULT_FLOW_DIR = Path(__file__).parent / "default"
ID_PATTERN = re.compile(r"^[a-z0-9_]{1,24}$")
FLOW_ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,40}$")
MAX_QUESTION_TEXT = 1000
MAX_BUTTON_TEXT = 60
COMPARE_OPERATORS = ("equals", "not_equals", "includes", "in")


@dataclass(frozen=True)
class Problem:
    source: str
    message: str
    question: str | None = None
    language: str | None = None
    row: int | None = None
    """The spreadsheet row (XLSForm), where there is one."""
    column: str | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"row {self.row}" + (f", column {self.column}" if self.column else ""))
        if self.question:
            where.append(f"question '{self.question}'")
        if self.language:
            where.append(f"language '{self.language}'")
        return f"{': '.join(where)}: {self.message}"


class FlowError(Exception):
    """A flow file that cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_flow_file(path: Path) -> Flow:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise FlowError([Problem(str(path), f"cannot read the file: {error}")]) from error
    return parse_flow(raw, source=str(path))


def load_default_flows() -> list[Flow]:
    return [load_flow_file(path) for path in sorted(DEFAULT_FLOW_DIR.glob("*.yaml"))]


def parse_flow(raw: Any, source: str) -> Flow:
    """Build a Flow from parsed YAML, or raise FlowError listing every problem found."""
    parser = _Parser(source)
    flow = parser.flow(raw)
    if parser.problems:
        raise FlowError(parser.problems)
    assert flow is not None
    return flow


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ()

    def problem(self, message: str, question: str | None = None, language: str | None = None) -> None:
        self.problems.append(Problem(self.source, message, question, language))

    def flow(self, raw: Any) -> Flow | None:
        if not isinstance(raw, dict):
            self.problem("the file must be a mapping with id, version, languages and questions")
            return None
        flow_id = str(raw.get("id", ""))
        if not FLOW_ID_PATTERN.match(flow_id):
            self.problem(f"flow id '{flow_id}' must be 1-40 characters of a-z, 0-9, '-' or '_'")
        version = raw.get("version", 1)
        if not isinstance(version, int) or version < 1:
            self.problem("version must be a whole number from 1")
            version = 1
        languages = raw.get("languages")
        if not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages):
            self.problem("languages must be a non-empty list of language codes")
            languages = ["en"]
        self.languages = tuple(languages)
        title = self.texts(raw.get("title"), "title", None)
        raw_questions = raw.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            self.problem("questions must be a non-empty list")
            raw_questions = []
        questions: list[Question] = []
        for position, raw_question in enumerate(raw_questions, start=1):
            question = self.question(raw_question, position)
            if question is not None:
                questions.append(question)
        self.check_references(questions)
        if self.problems:
            return None
        return Flow(flow_id, version, self.languages, title, tuple(questions))

    def texts(self, raw: Any, what: str, question: str | None, limit: int = MAX_QUESTION_TEXT) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.problem(f"{what} must give a text for each of {', '.join(self.languages)}", question)
            return {}
        texts: dict[str, str] = {}
        for language in self.languages:
            value = raw.get(language)
            if not isinstance(value, str) or not value.strip():
                self.problem(f"{what} is missing a translation", question, language)
                continue
            if len(value) > limit:
                self.problem(f"{what} is longer than {limit} characters", question, language)
            texts[language] = value.strip()
        for language in raw:
            if language not in self.languages:
                self.problem(f"{what} has a text in '{language}', which is not in languages", question)
        return texts

    def question(self, raw: Any, position: int) -> Question | None:
        if not isinstance(raw, dict):
            self.problem(f"question number {position} must be a mapping")
            return None
        question_id = str(raw.get("id", ""))
        label = question_id or f"#{position}"
        if not ID_PATTERN.match(question_id):
            self.problem("id must be 1-24 characters of a-z, 0-9 or '_'", label)
        try:
            kind = QuestionType(raw.get("type"))
        except ValueError:
            allowed = ", ".join(member.value for member in QuestionType)
            self.problem(f"type '{raw.get('type')}' is not one of {allowed}", label)
            return None
        text = self.texts(raw.get("text"), "text", label)
        hint = self.texts(raw["hint"], "hint", label) if "hint" in raw else None
        short = self.texts(raw["label"], "label", label, MAX_BUTTON_TEXT) if "label" in raw else None
        constraint_message = (
            self.texts(raw["constraint_message"], "constraint_message", label)
            if ("constraint_message" in raw)
            else None
        )
        required_message = (
            self.texts(raw["required_message"], "required_message", label) if ("required_message" in raw) else None
        )
        options = self.options(raw.get("options"), kind, label)
        when = self.condition(raw["when"], label) if "when" in raw else None
        urgent_if = tuple(_option_value(value) for value in raw.get("urgent_if", []) or [])
        required = bool(raw.get("required", kind is not QuestionType.INFO))
        numbers = {key: raw.get(key) for key in ("min", "max")}
        for key, value in numbers.items():
            if value is not None and not isinstance(value, int | float):
                self.problem(f"{key} must be a number", label)
                numbers[key] = None
        question = Question(
            id=question_id,
            type=kind,
            text=text,
            required=required,
            hint=hint,
            label=short,
            constraint_message=constraint_message,
            required_message=required_message,
            options=options,
            when=when,
            urgent_if=urgent_if,
            min=numbers["min"],
            max=numbers["max"],
            max_length=int(raw.get("max_length", 2000)),
            max_files=int(raw.get("max_files", 10)),
            countries=tuple(raw.get("countries", ("UZ", "KZ", "TM"))),
        )
        self.check_question(question)
        return question

    def options(self, raw: Any, kind: QuestionType, label: str) -> tuple[Option, ...]:
        if kind not in OPTION_TYPES:
            if raw:
                self.problem(f"a {kind.value} question cannot have options", label)
            return ()
        if not isinstance(raw, list) or not raw:
            self.problem("needs a non-empty list of options", label)
            return ()
        options = []
        for raw_option in raw:
            if not isinstance(raw_option, dict):
                self.problem("every option needs an id and a text", label)
                continue
            option_id = _option_value(raw_option.get("id", ""))
            if not ID_PATTERN.match(option_id):
                self.problem(f"option id '{option_id}' must be 1-24 characters of a-z, 0-9 or '_'", label)
            texts = self.texts(raw_option.get("text"), f"option '{option_id}'", label, MAX_BUTTON_TEXT)
            options.append(Option(option_id, texts))
        ids = [option.id for option in options]
        for duplicate in sorted({x for x in ids if ids.count(x) > 1}):
            self.problem(f"option id '{duplicate}' is used twice", label)
        return tuple(options)

    def condition(self, raw: Any, label: str) -> Condition | None:
        if not isinstance(raw, dict) or not raw:
            self.problem("when must be a mapping such as {question: q, equals: value}", label)
            return None
        if "all" in raw or "any" in raw:
            key = "all" if "all" in raw else "any"
            parts = [self.condition(part, label) for part in raw[key] or []]
            if not parts or None in parts:
                return None
            return (AllOf if key == "all" else AnyOf)(tuple(parts))  # type: ignore[arg-type]
        if "not" in raw:
            part = self.condition(raw["not"], label)
            return Not(part) if part else None
        operators = [key for key in COMPARE_OPERATORS if key in raw]
        if "question" not in raw or len(operators) != 1:
            self.problem("when needs 'question' and one of " + ", ".join(COMPARE_OPERATORS), label)
            return None
        operator = operators[0]
        value = raw[operator]
        values = value if isinstance(value, list) else [value]
        return Compare(str(raw["question"]), operator, tuple(_option_value(v) for v in values))

    def check_question(self, question: Question) -> None:
        label = question.id
        bounded = question.type is QuestionType.NUMBER and None not in (question.min, question.max)
        if bounded and question.min > question.max:  # type: ignore[operator]
            self.problem("min is greater than max", label)
        if question.type is QuestionType.TEXT and not 1 <= question.max_length <= 4000:
            self.problem("max_length must be between 1 and 4000", label)
        if question.type is QuestionType.ATTACHMENTS and not 1 <= question.max_files <= 50:
            self.problem("max_files must be between 1 and 50", label)
        if question.type is QuestionType.REGION:
            from .regions import REGIONS

            for country in question.countries:
                if country not in REGIONS:
                    self.problem(f"country '{country}' has no region list (known: {', '.join(REGIONS)})", label)
        if question.urgent_if:
            allowed = _answer_ids(question)
            if allowed is None:
                self.problem("urgent_if only works on choice, multi and yesno questions", label)
            else:
                for value in question.urgent_if:
                    if value not in allowed:
                        self.problem(f"urgent_if names '{value}', which is not an option", label)

    def check_references(self, questions: list[Question]) -> None:
        seen: dict[str, Question] = {}
        for question in questions:
            if question.id in seen:
                self.problem("this id is used by two questions", question.id)
            if question.when is not None:
                for target_id in sorted(question.when.questions()):
                    target = seen.get(target_id)
                    if target is None:
                        where = "a later" if any(q.id == target_id for q in questions) else "an unknown"
                        self.problem(f"when refers to {where} question '{target_id}'", question.id)
                        continue
                    allowed = _answer_ids(target)
                    for value in _compared_values(question.when, target_id):
                        if allowed is not None and value not in allowed:
                            self.problem(f"when compares '{target_id}' with unknown option '{value}'", question.id)
            seen[question.id] = question


def _option_value(value: Any) -> str:
    """YAML 1.1 reads bare yes/no as booleans; treat them as the yesno answers they mean."""
    if value is True:
        return YES
    if value is False:
        return NO
    return str(value)


def _answer_ids(question: Question) -> set[str] | None:
    if question.type is QuestionType.YESNO:
        return {YES, NO}
    if question.type in OPTION_TYPES:
        return {option.id for option in question.options}
    return None


def _compared_values(condition: Condition, question_id: str) -> list[str]:
    if isinstance(condition, Compare):
        return list(condition.values) if condition.question == question_id else []
    if isinstance(condition, AllOf | AnyOf):
        return [value for part in condition.parts for value in _compared_values(part, question_id)]
    if isinstance(condition, Not):
        return _compared_values(condition.part, question_id)
    return []
