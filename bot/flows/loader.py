"""Reading flow files into the model, with validation that names file, question and language.

Every problem found is collected (nothing stops at the first one) so an admin can fix a file in one go.
Besides the shape of the file, validation checks what would go wrong only later, in Telegram: questions
that can never be asked, conditions that loop, two buttons with the same label, texts over Telegram's
limits, and languages the bot has no catalogue for. docs/flows.md lists every rule with its message.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .model import (
    NO,
    NUMERIC_OPERATORS,
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
"""Question texts, hints and the messages shown on a wrong answer; info screens may be longer."""
MAX_BUTTON_TEXT = 60
"""Option texts and labels. Telegram shows buttons of more than about 64 characters badly, and a multi
question puts a 3-character mark ("✅ ") before each option: 60 keeps the whole button within 64."""
MAX_TITLE = MAX_BUTTON_TEXT
"""The flow title becomes a button when reporters choose between flows (cut at 60 there)."""
MAX_MESSAGE = 4096
"""Telegram's limit for one message, counted in UTF-16 units (most emoji count as two)."""
MAX_CALLBACK_DATA = 64
"""Telegram's limit for the data a button carries, in bytes."""
MAX_YAML_DEPTH = 50
"""Lists and blocks inside each other; a flow needs about ten, PyYAML's recursion breaks at a few hundred."""
NO_ALIASES = "anchors and aliases (&name, *name) are not allowed in a flow file: write each part out in full"
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")
)
"""What a flow file is made of; binary, sets, ordered maps and custom tags are refused before they are built."""
DEFAULT_COUNTRIES = ("UZ", "KZ", "TM")
COMPARE_OPERATORS = ("equals", "not_equals", "includes", "in", *NUMERIC_OPERATORS)
LOGICAL_OPERATORS = ("all", "any", "not")
FLOW_KEYS = ("id", "version", "languages", "title", "questions")
QUESTION_KEYS = (
    "id",
    "type",
    "text",
    "hint",
    "label",
    "required",
    "when",
    "constraint_message",
    "required_message",
    "options",
    "urgent_if",
    "min",
    "max",
    "max_length",
    "max_files",
    "countries",
    "quick",
)
OPTION_KEYS = ("id", "text")
_T = QuestionType
TYPE_KEYS: dict[str, tuple[QuestionType, ...]] = {
    "options": (_T.CHOICE, _T.MULTI),
    "urgent_if": (_T.CHOICE, _T.MULTI, _T.YESNO),
    "min": (_T.NUMBER,),
    "max": (_T.NUMBER,),
    "max_length": (_T.TEXT,),
    "max_files": (_T.ATTACHMENTS,),
    "countries": (_T.REGION,),
}
"""Keys that only some question types use; on any other type they are a mistake."""
_ADVICE = {
    ("options", _T.YESNO): "the bot shows its own Yes and No buttons",
    ("options", _T.REGION): "the bot shows the countries listed in countries, then their regions",
    ("options", _T.ATTACHMENTS): "the reporter sends files, then presses Done",
    ("min", _T.ATTACHMENTS): "use max_files",
    ("max", _T.ATTACHMENTS): "use max_files",
    ("max", _T.TEXT): "use max_length",
}
COMPARABLE = (_T.CHOICE, _T.YESNO, _T.TEXT)
"""Types whose answer is one text, so equals, not_equals and in work on it."""


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


# ---- reading files --------------------------------------------------------------------------------------


def load_flow_file(path: Path) -> Flow:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FlowError([Problem(str(path), f"cannot read the file: {error.strerror or error}")]) from error
    return parse_flow(read_flow_yaml(data, str(path)), source=str(path))


def load_default_flows() -> list[Flow]:
    return [load_flow_file(path) for path in sorted(DEFAULT_FLOW_DIR.glob("*.yaml"))]


def read_flow_yaml(data: bytes | str, source: str) -> Any:
    """Parse a YAML flow file; a syntax error, a repeated key, an anchor, alias or merge key, a tag other than
    plain data, too deep nesting or a non-UTF-8 file raise a FlowError whose message names the line and column
    (counted from 1, as editors do)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            message = f"the file is not UTF-8 text (line {line}): save it as UTF-8"
            raise FlowError([Problem(source, message)]) from error
    try:
        return yaml.load(data, Loader=_FlowYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise FlowError([Problem(source, _yaml_message(error))]) from error


class _FlowYamlLoader(yaml.SafeLoader):
    """SafeLoader for files from admins' uploads. While composing it refuses anchors and aliases: a few hundred
    bytes of aliases expand to gigabytes when built ("billion laughs"), and a flow needs none. The composed
    nodes are then checked (no merge keys, plain data only, text keys) before any Python object is built, and
    a key given twice in one mapping is refused (PyYAML would silently keep the last)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _refusal(NO_ALIASES, event)
        if self.depth >= MAX_YAML_DEPTH:
            raise _refusal(f"lists and blocks are nested more than {MAX_YAML_DEPTH} levels deep", event)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _check_nodes(node)
        return node


def _refusal(message: str, at: yaml.Event | yaml.Node) -> yaml.composer.ComposerError:
    return yaml.composer.ComposerError(None, None, message, at.start_mark)


def _check_nodes(root: yaml.Node) -> None:
    """Every node is plain data and every key a text, so building the document cannot do anything surprising."""
    waiting = [root]
    while waiting:
        node = waiting.pop()
        if node.tag == "tag:yaml.org,2002:merge":
            raise _refusal("'<<' merge keys are not allowed in a flow file: write the keys out", node)
        if node.tag not in PLAIN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _refusal(f"the tag {tag} is not allowed in a flow file: use plain texts, numbers and lists", node)
        if isinstance(node, yaml.MappingNode):
            for key, _value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise _refusal("a key must be a plain text, not a list or a block", key)
            waiting.extend(item for pair in reversed(node.value) for item in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            waiting.extend(reversed(node.value))


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = first.get(key)
        if line is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key '{key}' appears twice in one block (first on line {line + 1})",
                key_node.start_mark,
            )
        first[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=True)


_FlowYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)

_YAML_EXPLANATIONS = (
    (
        "mapping values are not allowed here",
        "a ':' is not allowed here: check the indentation, or put the text in quotes",
    ),
    ("that cannot start any token", "tab characters cannot indent YAML: use spaces"),
    ("found unexpected end of stream", "a quoted text is not closed"),
    ("expected <block end>", "this line is not indented like the lines above it"),
    ("could not find expected ':'", "a line is missing its ':', or a quoted text is not closed"),
    ("expected ',' or '}'", "a '{' is not closed with '}', or an item inside is missing its ','"),
    ("expected ',' or ']'", "a '[' is not closed with ']', or an item inside is missing its ','"),
)


def _yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = str(getattr(error, "problem", None) or error)
    explanation = next((text for known, text in _YAML_EXPLANATIONS if known in problem), problem)
    context_mark = getattr(error, "context_mark", None)
    if explanation == "a quoted text is not closed" and context_mark is not None:
        explanation += f" (the quote opens on line {context_mark.line + 1})"
    if mark is None:
        return f"YAML syntax error: {explanation}"
    return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {explanation}"


# ---- building the model ---------------------------------------------------------------------------------


def parse_flow(raw: Any, source: str) -> Flow:
    """Build a Flow from parsed YAML, or raise FlowError listing every problem found.

    The XLSForm reader places each problem on its sheet, row and column afterwards, by question id."""
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

    def unknown_keys(self, raw: dict, known: tuple[str, ...], where: str, question: str | None = None) -> None:
        for key in raw:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f": did you mean '{close[0]}'?" if close else f" (known: {', '.join(known)})"
                self.problem(f"unknown key '{key}' in {where}{hint}", question)

    def flow(self, raw: Any) -> Flow | None:
        if not isinstance(raw, dict):
            self.problem("the file must be a mapping with id, version, languages and questions")
            return None
        self.unknown_keys(raw, FLOW_KEYS, "the flow")
        flow_id = str(raw.get("id", ""))
        if not FLOW_ID_PATTERN.match(flow_id):
            self.problem(f"flow id '{flow_id}' must be 1-40 characters of a-z, 0-9, '-' or '_'")
        version = raw.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.problem("version must be a whole number from 1")
            version = 1
        self.languages = self.flow_languages(raw.get("languages"))
        title = self.texts(raw.get("title"), "title", None, MAX_TITLE)
        raw_questions = raw.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            self.problem("questions must be a non-empty list")
            raw_questions = []
        questions: list[Question] = []
        for position, raw_question in enumerate(raw_questions, start=1):
            question = self.question(raw_question, position)
            if question is not None:
                questions.append(question)
        if raw_questions and questions and not any(question.asks for question in questions):
            self.problem("the flow asks nothing: add at least one question that is not info")
        self.check_references(questions)
        self.check_quick(questions)
        if self.problems:
            return None
        return Flow(flow_id, version, self.languages, title, tuple(questions))

    def flow_languages(self, raw: Any) -> tuple[str, ...]:
        from ..i18n import LANGUAGES

        if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
            self.problem("languages must be a non-empty list of language codes")
            return ("en",)
        for language in dict.fromkeys(raw):
            if raw.count(language) > 1:
                self.problem(f"language '{language}' is listed twice in languages")
            if language not in LANGUAGES:
                self.problem(f"language '{language}' has no bot catalogue (known: {', '.join(LANGUAGES)})")
        return tuple(dict.fromkeys(raw))

    def texts(self, raw: Any, what: str, question: str | None, limit: int | None = MAX_QUESTION_TEXT) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.problem(f"{what} must give a text for each of {', '.join(self.languages)}", question)
            return {}
        texts: dict[str, str] = {}
        for language in self.languages:
            value = raw.get(language)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                self.problem(f"{what} is missing a translation", question, language)
                continue
            if limit is not None and len(value.strip()) > limit:
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
        self.unknown_keys(raw, QUESTION_KEYS, "a question", label)
        if not ID_PATTERN.match(question_id):
            self.problem("id must be 1-24 characters of a-z, 0-9 or '_'", label)
        if "type" not in raw:
            allowed = ", ".join(member.value for member in QuestionType)
            self.problem(f"type is missing (one of {allowed})", label)
            return None
        try:
            kind = QuestionType(raw.get("type"))
        except ValueError:
            allowed = ", ".join(member.value for member in QuestionType)
            self.problem(f"type '{raw.get('type')}' is not one of {allowed}", label)
            return None
        for key, kinds in TYPE_KEYS.items():
            if key in raw and kind not in kinds and key != "urgent_if":
                advice = _ADVICE.get((key, kind))
                self.problem(f"{kind.value} questions cannot have {key}" + (f"; {advice}" if advice else ""), label)
        text_limit = None if kind is QuestionType.INFO else MAX_QUESTION_TEXT
        text = self.texts(raw.get("text"), "text", label, text_limit)
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
        options = self.options(raw.get("options"), kind, label) if kind in OPTION_TYPES else ()
        when = self.condition(raw["when"], label) if "when" in raw else None
        raw_urgent = raw.get("urgent_if")
        raw_urgent = [] if raw_urgent is None else raw_urgent if isinstance(raw_urgent, list) else [raw_urgent]
        urgent_if = tuple(_option_value(value) for value in raw_urgent)
        required = raw.get("required", kind is not QuestionType.INFO)
        if not isinstance(required, bool):
            self.problem("required must be true or false", label)
            required = True
        if kind is QuestionType.INFO and required:
            self.problem("info questions cannot be required: they show a text and ask nothing", label)
            required = False
        quick = raw.get("quick", False)
        if not isinstance(quick, bool):
            self.problem("quick must be true or false", label)
            quick = False
        if kind is QuestionType.INFO and quick:
            self.problem(
                "info questions cannot be quick: the quick report shows only questions; put what it must say "
                "into a quick question's hint",
                label,
            )
            quick = False
        numbers = {key: raw.get(key) for key in ("min", "max")}
        for key, value in numbers.items():
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
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
            max_length=self.whole(raw, "max_length", 2000, label),
            max_files=self.whole(raw, "max_files", 10, label),
            countries=self.countries(raw, kind, label),
            quick=quick,
        )
        self.check_question(question)
        return question

    def whole(self, raw: dict, key: str, default: int, label: str) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(f"{key} must be a whole number", label)
            return default
        return value

    def countries(self, raw: dict, kind: QuestionType, label: str) -> tuple[str, ...]:
        from .regions import REGIONS

        if kind is not QuestionType.REGION or "countries" not in raw:
            return DEFAULT_COUNTRIES
        value = raw["countries"]
        if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
            self.problem("countries must be a list of country codes such as [UZ, KZ, TM]", label)
            return DEFAULT_COUNTRIES
        if not value:
            self.problem(f"a region question needs at least one country (known: {', '.join(REGIONS)})", label)
        for country in dict.fromkeys(value):
            if value.count(country) > 1:
                self.problem(f"country '{country}' is listed twice", label)
        return tuple(dict.fromkeys(value))

    def options(self, raw: Any, kind: QuestionType, label: str) -> tuple[Option, ...]:
        if not isinstance(raw, list) or not raw:
            self.problem("needs a non-empty list of options", label)
            return ()
        options = []
        for raw_option in raw:
            if not isinstance(raw_option, dict):
                self.problem("every option needs an id and a text", label)
                continue
            option_id = _option_value(raw_option.get("id", ""))
            self.unknown_keys(raw_option, OPTION_KEYS, f"option '{option_id}'", label)
            if not ID_PATTERN.match(option_id):
                self.problem(f"option id '{option_id}' must be 1-24 characters of a-z, 0-9 or '_'", label)
            texts = self.texts(raw_option.get("text"), f"option '{option_id}'", label, MAX_BUTTON_TEXT)
            options.append(Option(option_id, texts))
        ids = [option.id for option in options]
        for duplicate in sorted({x for x in ids if ids.count(x) > 1}):
            self.problem(f"option id '{duplicate}' is used twice", label)
        for language in self.languages:
            first: dict[str, Option] = {}
            for option in options:
                text = option.text.get(language)
                if text is None:
                    continue
                other = first.setdefault(" ".join(text.split()).casefold(), option)
                if other is not option and other.id != option.id:
                    self.problem(f"options '{other.id}' and '{option.id}' have the same text '{text}'", label, language)
        return tuple(options)

    def condition(self, raw: Any, label: str) -> Condition | None:
        if not isinstance(raw, dict) or not raw:
            self.problem("when must be a mapping such as {question: q, equals: value}", label)
            return None
        logical = [key for key in LOGICAL_OPERATORS if key in raw]
        if logical:
            key = logical[0]
            if len(raw) != 1:
                others = ", ".join(f"'{other}'" for other in raw if other != key)
                self.problem(
                    f"when: '{key}' cannot stand beside {others} in one mapping; put each test inside it", label
                )
                return None
            if key == "not":
                part = self.condition(raw["not"], label)
                return Not(part) if part else None
            if not isinstance(raw[key], list) or not raw[key]:
                self.problem(f"when: '{key}' needs a list of conditions", label)
                return None
            parts = [self.condition(part, label) for part in raw[key]]
            if None in parts:
                return None
            return (AllOf if key == "all" else AnyOf)(tuple(parts))  # type: ignore[arg-type]
        operators = [key for key in COMPARE_OPERATORS if key in raw]
        if "question" not in raw or len(operators) != 1:
            self.problem("when needs 'question' and one of " + ", ".join(COMPARE_OPERATORS), label)
            return None
        for key in raw:
            if key not in ("question", *COMPARE_OPERATORS):
                self.problem(f"unknown key '{key}' in when", label)
                return None
        operator = operators[0]
        value = raw[operator]
        values = value if isinstance(value, list) else [value]
        if not values:
            self.problem(f"when: '{operator}' needs at least one value", label)
            return None
        if not all(isinstance(v, str | int | float | bool) for v in values):
            self.problem(f"when: '{operator}' takes option ids, not lists or mappings", label)
            return None
        if operator in NUMERIC_OPERATORS and not (
            len(values) == 1 and isinstance(values[0], int | float) and not isinstance(values[0], bool)
        ):
            self.problem(f"when: '{operator}' compares a number question with one number, such as 18", label)
            return None
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
        self.check_callback_data(question)
        self.check_message_length(question)

    def check_callback_data(self, question: Question) -> None:
        from .engine import actions

        data = [actions.nav(question.id, "countries"), actions.edit(question.id)]
        data += [actions.option(question.id, option.id) for option in question.options]
        if question.type is QuestionType.YESNO:
            data += [actions.option(question.id, YES), actions.option(question.id, NO)]
        if question.type is QuestionType.REGION:
            from .regions import REGIONS

            data += [actions.country(question.id, code) for code in question.countries]
            data += [
                actions.region(question.id, region)
                for code in question.countries
                for region in (REGIONS[code].regions if code in REGIONS else ())
            ]
        longest = max(data, key=lambda item: len(item.encode("utf-8")))
        size = len(longest.encode("utf-8"))
        if size > MAX_CALLBACK_DATA:
            self.problem(
                f"the button data '{longest}' is {size} bytes, over Telegram's limit of {MAX_CALLBACK_DATA}: "
                "shorten the question or option id",
                question.id,
            )

    def check_message_length(self, question: Question) -> None:
        """The question as the bot sends it (text, hint and its own lines) must fit into one message."""
        from ..render import render_step
        from .engine import Ask
        from .regions import OTHER_COUNTRY

        if not question.text:
            return
        if question.type is QuestionType.REGION:
            from .regions import REGIONS

            question = replace(question, countries=tuple(code for code in question.countries if code in REGIONS))
        pending: list[Any] = [None]
        if question.type is QuestionType.REGION:
            pending.append({"country": OTHER_COUNTRY})
        if question.type is QuestionType.ATTACHMENTS:
            pending.append([{"ref": "", "kind": ""}] * max(question.max_files, 1))
        for language in self.languages:
            texts = [question.text, *([question.hint] if question.hint is not None else [])]
            texts += [option.text for option in question.options]
            if any(language not in text for text in texts):
                continue
            flow = Flow("check", 1, (language,), {language: ""}, (question,))
            size = max(
                _utf16_length(
                    render_step(
                        flow, Ask(question, value, can_back=True, can_skip=not question.required), language
                    ).text
                )
                for value in pending
            )
            if size > MAX_MESSAGE:
                self.problem(
                    f"the message in Telegram (text, hint and the bot's own lines) would be {size} characters, "
                    f"over Telegram's limit of {MAX_MESSAGE}: shorten the text or the hint",
                    question.id,
                    language,
                )

    # ---- references between questions --------------------------------------------------------------

    def check_references(self, questions: list[Question]) -> None:
        position: dict[str, int] = {}
        for index, question in enumerate(questions):
            position.setdefault(question.id, index)
        graph = {
            question.id: sorted(question.when.questions() & position.keys())
            for question in questions
            if question.when is not None
        }
        cycles: set[frozenset[str]] = set()
        seen: dict[str, Question] = {}
        sound: set[int] = set()
        """Questions whose `when` names only earlier questions, in ways that fit their answers."""
        ends: list[int] = []
        for index, question in enumerate(questions):
            if question.id in seen:
                self.problem("this id is used by two questions", question.id)
            when = question.when
            if when is not None and index == 0:
                self.problem(
                    "the first question cannot have a when: there are no earlier answers to branch on", question.id
                )
            elif when is not None:
                fits = True
                for target_id in sorted(when.questions()):
                    if target_id == question.id:
                        self.problem("when refers to itself", question.id)
                        fits = False
                        continue
                    target = seen.get(target_id)
                    if target is None:
                        fits = False
                        if target_id not in position:
                            self.problem(f"when refers to an unknown question '{target_id}'", question.id)
                            continue
                        cycle = _find_cycle(graph, question.id, target_id)
                        if cycle is None:
                            self.problem(f"when refers to a later question '{target_id}'", question.id)
                        elif frozenset(cycle) not in cycles:
                            cycles.add(frozenset(cycle))
                            self.problem(f"when forms a cycle: {' → '.join(cycle)}", question.id)
                        continue
                    fits &= self.check_compares(question, when, target)
                if fits:
                    sound.add(index)
            seen[question.id] = question
            ends.append(len(self.problems))
        never = _never_asked(questions, sound)
        if never is None:
            never = _never_asked_one_by_one(questions, sound)
        asked = {question.id: index not in never for index, question in enumerate(questions)}
        for index in sorted(never, reverse=True):
            question = questions[index]
            assert question.when is not None
            targets = {target_id: seen[target_id] for target_id in sorted(question.when.questions())}
            reason = _why_never(question.when, _domains(question.when, targets, asked), targets, asked)
            self.problems.insert(ends[index], Problem(self.source, f"can never be asked: {reason}", question.id))

    def check_quick(self, questions: list[Question]) -> None:
        """A quick report must always be completable on its own: its conditions read only quick answers, and it
        always asks for the reporter's own words."""
        quick = [question for question in questions if question.quick]
        if not quick:
            return
        quick_ids = {question.id for question in quick}
        earlier: set[str] = set()
        for question in questions:
            if question.quick and question.when is not None:
                for target_id in sorted(question.when.questions() & (earlier - quick_ids)):
                    self.problem(
                        f"when refers to '{target_id}', which is not quick: the quick report never asks it "
                        f"(mark '{target_id}' quick too, or remove the condition)",
                        question.id,
                    )
            earlier.add(question.id)
        words = next((question for question in quick if question.type is QuestionType.TEXT), None)
        if words is None:
            self.problem(
                "the quick report has no text question: mark a text question quick, for the reporter's own words"
            )
        elif words.when is not None:
            self.problem(
                "the first quick text question takes the reporter's own words, so it cannot have a when", words.id
            )

    def check_compares(self, question: Question, when: Condition, target: Question) -> bool:
        """Unknown options, and operators that never (or always) hold on the target's type of answer."""
        sound = True
        allowed = _answer_ids(target)
        option_values = [
            value
            for compare in _compares(when)
            if compare.question == target.id and compare.operator not in NUMERIC_OPERATORS
            for value in compare.values
        ]
        for value in dict.fromkeys(option_values):
            if allowed is not None and value not in allowed:
                self.problem(f"when compares '{target.id}' with unknown option '{value}'", question.id)
                sound = False
        operators = dict.fromkeys(c.operator for c in _compares(when) if c.question == target.id)
        for operator in operators:
            message = _operator_misuse(operator, target)
            if message:
                self.problem(message, question.id)
                sound = False
        return sound


# ---- reasoning about conditions -------------------------------------------------------------------------
#
# Whether a question can be asked is decided on abstract answers: for each question some condition reads,
# the answers that matter (the option ids or texts the conditions name, one stand-in for "any other
# answer", and None where the question may be skipped or is not asked). `_never_asked` follows every
# combination in flow order, as the engine does, so it is exact; for flows too branched for that,
# `_never_asked_one_by_one` treats the questions as independent, which can only find more ways for a
# condition to hold than there are: a question reported as never asked really never is.


class _Other:
    """Any answer the condition does not name (another option, another text, a number, a date...)."""

    def __repr__(self) -> str:
        return "OTHER"


OTHER = _Other()
MAX_COMBINATIONS = 50_000
MAX_NAMED = 10
MAX_STATES = 20_000


def _never_asked(questions: list[Question], sound: set[int]) -> set[int] | None:
    """Positions of the questions that no sequence of answers reaches, or None when there are too many
    combinations of answers to try (then `_never_asked_one_by_one` decides).

    The questions are walked in flow order, as the engine asks them, carrying every combination of
    abstract answers to the questions that a later condition still reads. A question whose condition could
    not be analysed is treated as maybe asked, maybe not.
    """
    read_from: list[set[str]] = [set() for _ in range(len(questions) + 1)]
    mentioned: dict[str, list[str]] = {}
    for index in range(len(questions) - 1, -1, -1):
        read_from[index] = set(read_from[index + 1])
        when = questions[index].when
        if index in sound and when is not None:
            read_from[index] |= when.questions()
            for target_id in when.questions():
                mentioned.setdefault(target_id, [])
                mentioned[target_id] += [v for v in _mentioned(when, target_id) if v not in mentioned[target_id]]
    kinds = {question.id: question.type for question in questions}
    never: set[int] = set()
    states: set[frozenset[tuple[str, Any]]] = {frozenset()}
    for index, question in enumerate(questions):
        keep = read_from[index + 1]
        values = _domain(replace(question, when=None), mentioned.get(question.id, []), True)
        if question.id in keep and (values is None or len(states) * len(values) > MAX_STATES):
            return None
        following: set[frozenset[tuple[str, Any]]] = set()
        reached = False
        for state in states:
            answers = dict(state)
            if question.when is None:
                outcomes: tuple[bool, ...] = (True,)
            elif index in sound:
                outcomes = (_holds(question.when, answers, kinds),)
            else:
                outcomes = (True, False)
            kept = {key: value for key, value in state if key in keep}
            for applies in outcomes:
                reached |= applies
                if question.id not in keep or values is None:
                    following.add(frozenset(kept.items()))
                    continue
                for value in values if applies else [None]:
                    following.add(frozenset({**kept, question.id: value}.items()))
        if not reached:
            never.add(index)
        states = following
        if len(states) > MAX_STATES:
            return None
    return never


def _never_asked_one_by_one(questions: list[Question], sound: set[int]) -> set[int]:
    """A coarser test for very branched flows: each condition on its own, answers taken as independent."""
    asked: dict[str, bool] = {}
    seen: dict[str, Question] = {}
    never: set[int] = set()
    for index, question in enumerate(questions):
        if index in sound and question.when is not None:
            targets = {target_id: seen[target_id] for target_id in sorted(question.when.questions())}
            if _satisfiable(question.when, _domains(question.when, targets, asked), targets) is False:
                never.add(index)
        asked[question.id] = index not in never
        seen[question.id] = question
    return never


def _domains(
    when: Condition, targets: Mapping[str, Question], asked: Mapping[str, bool]
) -> dict[str, list[Any] | None]:
    return {
        target_id: _domain(target, _mentioned(when, target_id), asked.get(target_id, True))
        for target_id, target in targets.items()
    }


def _compares(condition: Condition) -> Iterator[Compare]:
    if isinstance(condition, Compare):
        yield condition
    elif isinstance(condition, AllOf | AnyOf):
        for part in condition.parts:
            yield from _compares(part)
    elif isinstance(condition, Not):
        yield from _compares(condition.part)


def _mentioned(condition: Condition, question_id: str) -> list[str]:
    return list(dict.fromkeys(_compared_values(condition, question_id)))


def _operator_misuse(operator: str, target: Question) -> str | None:
    kind = target.type
    what = f"when uses '{operator}' on '{target.id}'"
    if operator in NUMERIC_OPERATORS:
        if kind is QuestionType.NUMBER:
            return None
        return f"{what}, a {kind.value} question, so it never holds; {operator} only works on number questions"
    if kind is QuestionType.INFO:
        return f"{what}, an info question, which leaves no answer, so it never holds"
    if kind is QuestionType.MULTI and operator in ("equals", "in"):
        return f"{what}, a multi question whose answer is a list, so it never holds; use includes"
    if kind is QuestionType.MULTI and operator == "not_equals":
        return (
            f"{what}, a multi question whose answer is a list, so it holds whenever '{target.id}' is answered; "
            "use not with includes"
        )
    if kind is not QuestionType.MULTI and operator == "includes":
        advice = "use equals" if kind in COMPARABLE else "includes only works on multi questions"
        return f"{what}, a {kind.value} question, so it never holds; {advice}"
    if kind not in COMPARABLE and kind is not QuestionType.MULTI:
        effect = f"holds whenever '{target.id}' is answered" if operator == "not_equals" else "never holds"
        return (
            f"{what}, a {kind.value} question, whose answer is never equal to a fixed value, so it {effect}; "
            "only choice, multi, yesno and text answers can be compared"
        )
    return None


def _domain(question: Question, mentioned: list[str], asked: bool) -> list[Any] | None:
    """Abstract answers `question` can have when a later question's condition is tested (None: too many
    to list, when a condition names more than MAX_NAMED options of one multi question)."""
    if not asked or not question.asks:
        return [None]
    values: list[Any] = []
    if question.type is QuestionType.YESNO:
        values = [YES, NO]
    elif question.type is QuestionType.CHOICE:
        ids = [option.id for option in question.options]
        values = [value for value in mentioned if value in ids]
        values += [OTHER] if set(ids) - set(values) else []
    elif question.type is QuestionType.TEXT:
        values = [*mentioned, OTHER]
    elif question.type is QuestionType.NUMBER:
        values = _number_candidates(mentioned)
    elif question.type is QuestionType.MULTI:
        ids = [option.id for option in question.options]
        items: list[Any] = [value for value in mentioned if value in ids]
        items += [OTHER] if set(ids) - set(items) else []
        if len(items) > MAX_NAMED:
            return None
        values = [
            frozenset(chosen) for size in range(1, len(items) + 1) for chosen in itertools.combinations(items, size)
        ]
    else:
        values = [OTHER]
    if not question.required or question.when is not None:
        values.append(None)
    return values


def _holds(condition: Condition, answers: Mapping[str, Any], kinds: Mapping[str, QuestionType]) -> bool:
    """Condition.holds on abstract answers (the same rules as the model's, with OTHER matching nothing)."""
    if isinstance(condition, AllOf):
        return all(_holds(part, answers, kinds) for part in condition.parts)
    if isinstance(condition, AnyOf):
        return any(_holds(part, answers, kinds) for part in condition.parts)
    if isinstance(condition, Not):
        return not _holds(condition.part, answers, kinds)
    assert isinstance(condition, Compare)
    answer = answers.get(condition.question)
    if answer is None:
        return False
    if condition.operator in NUMERIC_OPERATORS:
        return isinstance(answer, float) and NUMERIC_OPERATORS[condition.operator](answer, float(condition.values[0]))
    is_list = kinds[condition.question] in (QuestionType.MULTI, QuestionType.ATTACHMENTS)
    if condition.operator == "includes":
        return isinstance(answer, frozenset) and any(value in answer for value in condition.values)
    if is_list or kinds[condition.question] not in COMPARABLE:
        return condition.operator == "not_equals"
    if condition.operator == "not_equals":
        return answer not in condition.values
    return answer in condition.values


def _number_candidates(mentioned: list[str]) -> list[Any]:
    """Answers that, between them, make every combination of comparisons with these limits come out as it
    can: each limit, a little below and above it, and a point between neighbouring limits."""
    limits = sorted({float(value) for value in mentioned if _is_number(value)})
    if not limits:
        return [OTHER]
    points = {limits[0] - 1, limits[-1] + 1, *limits}
    points.update((low + high) / 2 for low, high in itertools.pairwise(limits))
    return sorted(points)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _satisfiable(
    condition: Condition, domains: Mapping[str, list[Any] | None], targets: Mapping[str, Question]
) -> bool | None:
    """True or False, or None when there are too many combinations to try."""
    ids = sorted(condition.questions())
    total = 1
    for question_id in ids:
        domain = domains[question_id]
        if domain is None:
            return None
        total *= len(domain)
    if total > MAX_COMBINATIONS:
        return None
    kinds = {question_id: targets[question_id].type for question_id in ids}
    for combination in itertools.product(*(domains[question_id] for question_id in ids)):
        if _holds(condition, dict(zip(ids, combination, strict=True)), kinds):
            return True
    return False


def _why_never(
    when: Condition, domains: Mapping[str, list[Any] | None], targets: Mapping[str, Question], asked: Mapping[str, bool]
) -> str:
    parts = _conjuncts(when)
    for part in parts:
        if isinstance(part, Compare) and not asked.get(part.question, True):
            return f"its condition needs an answer to '{part.question}', which is itself never asked"
    for part in parts:
        if _satisfiable(part, domains, targets) is False:
            description = _describe(part)
            if description and len(part.questions()) == 1:
                question_id = next(iter(part.questions()))
                return f"its condition needs '{question_id}' to {description}, which no answer to '{question_id}' does"
            break
    else:
        by_question: dict[str, list[Condition]] = {}
        for part in parts:
            if len(part.questions()) == 1:
                by_question.setdefault(next(iter(part.questions())), []).append(part)
        for question_id, group in by_question.items():
            if len(group) < 2 or _satisfiable(AllOf(tuple(group)), domains, targets) is not False:
                continue
            for first, second in itertools.combinations(group, 2):
                if _satisfiable(AllOf((first, second)), domains, targets) is False:
                    one, other = _describe(first), _describe(second)
                    if one and other:
                        if one.startswith("be ") and other.startswith("be "):
                            return f"its condition needs '{question_id}' to be both {one[3:]} and {other[3:]}"
                        return f"its condition needs '{question_id}' to {one} and {other}"
            return f"its conditions on '{question_id}' contradict each other"
    return "no combination of earlier answers makes its condition hold"


def _conjuncts(condition: Condition) -> list[Condition]:
    if isinstance(condition, AllOf):
        return [item for part in condition.parts for item in _conjuncts(part)]
    return [condition]


def _describe(condition: Condition) -> str | None:
    negated = isinstance(condition, Not)
    compare = condition.part if isinstance(condition, Not) else condition
    if not isinstance(compare, Compare):
        return None
    if compare.operator in NUMERIC_OPERATORS:
        symbol = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}[compare.operator]
        return f"{'not ' if negated else ''}be {symbol} {compare.values[0]}"
    values = ", ".join(f"'{value}'" for value in compare.values)
    several = len(compare.values) > 1
    if compare.operator == "not_equals":
        if negated:
            return None
        negated = True
    if compare.operator == "includes":
        if several:
            return f"include none of {values}" if negated else f"include one of {values}"
        return f"not include {values}" if negated else f"include {values}"
    if several:
        return f"be none of {values}" if negated else f"be one of {values}"
    return f"not be {values}" if negated else f"be {values}"


def _find_cycle(graph: Mapping[str, list[str]], start: str, first: str) -> list[str] | None:
    """The shortest path start → first → … → start along `when` references, if there is one."""
    paths = {first: [start, first]}
    queue = [first]
    while queue:
        node = queue.pop(0)
        for target in graph.get(node, []):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return None


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


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
