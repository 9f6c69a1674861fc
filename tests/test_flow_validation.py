"""Flow validation beyond the file's shape: unreachable questions, cycles, Telegram's limits, languages,
friendly YAML errors, and the JSON Schema editors use. Every message is checked word for word, because
docs/flows.md quotes them for admins."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from bot.flows import loader
from bot.flows.export_yaml import flow_to_raw
from bot.flows.loader import DEFAULT_FLOW_DIR, FlowError, load_default_flows, load_flow_file, parse_flow
from bot.flows.model import QuestionType
from bot.flows.schema import flow_schema, schema_text
from bot.i18n import LANGUAGES

T = {"en": "Question", "ru": "Вопрос"}
YESNO = {"id": "y", "type": "yesno", "text": T}


def opts(*ids: str) -> list[dict[str, Any]]:
    return [{"id": option, "text": {"en": option, "ru": f"{option} (ru)"}} for option in ids]


def flow_with(*questions, languages=("en", "ru"), title=T) -> dict[str, Any]:
    return {"id": "campaign", "version": 1, "languages": list(languages), "title": title, "questions": list(questions)}


def problems(raw, **kwargs) -> list[str]:
    with pytest.raises(FlowError) as caught:
        parse_flow(raw, source="campaign.yaml", **kwargs)
    return [str(problem) for problem in caught.value.problems]


def text_q(question_id: str, when: dict | None = None, **extra) -> dict[str, Any]:
    question = {"id": question_id, "type": "text", "text": T, **extra}
    if when is not None:
        question["when"] = when
    return question


# ---- the default flow -------------------------------------------------------------------------------------


def test_default_flow_passes_every_rule_and_survives_export():
    [flow] = load_default_flows()
    assert parse_flow(flow_to_raw(flow), source="export") == flow
    raw = yaml.safe_load((DEFAULT_FLOW_DIR / "forced_labour.yaml").read_text(encoding="utf-8"))
    assert parse_flow(raw, source="default") == flow


# ---- references: earlier, later, itself, cycles -------------------------------------------------------------


def test_when_must_refer_to_earlier_questions_and_known_options():
    found = problems(
        flow_with(
            {"id": "q0", "type": "yesno", "text": T},
            {"id": "q1", "type": "yesno", "text": T, "when": {"question": "q2", "equals": "yes"}},
            {"id": "q2", "type": "yesno", "text": T},
            {"id": "q3", "type": "text", "text": T, "when": {"question": "q2", "equals": "maybe"}},
            {"id": "q4", "type": "text", "text": T, "when": {"question": "nowhere", "equals": "x"}},
        )
    )
    assert found == [
        "campaign.yaml: question 'q1': when refers to a later question 'q2'",
        "campaign.yaml: question 'q3': when compares 'q2' with unknown option 'maybe'",
        "campaign.yaml: question 'q4': when refers to an unknown question 'nowhere'",
    ]


def test_the_first_question_cannot_branch():
    assert problems(flow_with(text_q("a", {"question": "b", "equals": "x"}), YESNO)) == [
        "campaign.yaml: question 'a': the first question cannot have a when: there are no earlier answers to branch on"
    ]


def test_self_reference_and_cycles_are_named():
    found = problems(
        flow_with(
            YESNO,
            {"id": "a", "type": "yesno", "text": T, "when": {"question": "b", "equals": "yes"}},
            {"id": "b", "type": "yesno", "text": T, "when": {"question": "a", "equals": "yes"}},
            {"id": "c", "type": "yesno", "text": T, "when": {"question": "c", "equals": "yes"}},
            {"id": "d", "type": "yesno", "text": T, "when": {"question": "f", "equals": "yes"}},
            {"id": "e", "type": "yesno", "text": T, "when": {"question": "d", "not_equals": "no"}},
            {"id": "f", "type": "yesno", "text": T, "when": {"any": [{"question": "e", "equals": "yes"}, YES_Y]}},
        )
    )
    assert found == [
        "campaign.yaml: question 'a': when forms a cycle: a → b → a",
        "campaign.yaml: question 'c': when refers to itself",
        "campaign.yaml: question 'd': when forms a cycle: d → f → e → d",
    ]


YES_Y = {"question": "y", "equals": "yes"}


# ---- questions that can never be asked ----------------------------------------------------------------------


def test_contradictory_all_is_reported_with_both_values():
    found = problems(flow_with(YESNO, text_q("x", {"all": [YES_Y, {"question": "y", "equals": "no"}]})))
    assert found == [
        "campaign.yaml: question 'x': can never be asked: its condition needs 'y' to be both 'yes' and 'no'"
    ]


def test_a_condition_on_a_question_that_is_never_asked():
    found = problems(
        flow_with(
            YESNO,
            {"id": "m", "type": "multi", "text": T, "options": opts("a", "b")},
            text_q("x", {"all": [YES_Y, {"question": "y", "not_equals": "yes"}]}),
            text_q("z", {"question": "x", "equals": "hello"}),
            text_q("w", {"not": {"question": "x", "equals": "hello"}}),
            text_q("t", {"all": [{"question": "m", "includes": "a"}, {"not": {"question": "m", "includes": "a"}}]}),
            text_q("s", {"all": [{"question": "m", "includes": ["a", "b"]}, {"not": {"question": "m", "in": []}}]}),
        )
    )
    assert found == [
        "campaign.yaml: question 's': when: 'in' needs at least one value",
        "campaign.yaml: question 'x': can never be asked: its condition needs 'y' to be 'yes' and not be 'yes'",
        "campaign.yaml: question 'z': can never be asked: its condition needs an answer to 'x', which is itself "
        "never asked",
        "campaign.yaml: question 't': can never be asked: its condition needs 'm' to include 'a' and not include 'a'",
    ]


def test_conditions_that_no_answer_meets():
    found = problems(
        flow_with(
            YESNO,
            {"id": "c", "type": "choice", "text": T, "options": opts("a", "b", "c")},
            text_q("x", {"not": {"question": "y", "in": ["yes", "no"]}}),
            text_q("v", {"all": [{"question": "c", "in": ["a", "b"]}, {"question": "c", "in": ["c"]}]}),
            text_q("u", {"all": [{"question": "c", "in": ["a", "b"]}, {"question": "c", "in": ["b", "c"]}]}),
            text_q(
                "t", {"all": [YES_Y, {"any": [{"question": "y", "equals": "no"}, {"question": "c", "equals": "z"}]}]}
            ),
            text_q("s", {"all": [YES_Y, {"any": [{"question": "y", "equals": "no"}, {"not": YES_Y}]}]}),
        )
    )
    assert found == [
        "campaign.yaml: question 'x': can never be asked: its condition needs 'y' to be none of 'yes', 'no', "
        "which no answer to 'y' does",
        "campaign.yaml: question 'v': can never be asked: its condition needs 'c' to be both one of 'a', 'b' and 'c'",
        "campaign.yaml: question 't': when compares 'c' with unknown option 'z'",
        "campaign.yaml: question 's': can never be asked: its conditions on 'y' contradict each other",
    ]


def test_operators_that_do_not_fit_the_answer_type():
    found = problems(
        flow_with(
            YESNO,
            {"id": "m", "type": "multi", "text": T, "options": opts("a", "b")},
            {"id": "n", "type": "number", "text": T},
            {"id": "i", "type": "info", "text": T},
            {"id": "f", "type": "attachments", "text": T, "required": False},
            text_q("q1", {"question": "m", "equals": "a"}),
            text_q("q2", {"question": "m", "not_equals": "a"}),
            text_q("q3", {"question": "y", "includes": "yes"}),
            text_q("q4", {"question": "n", "equals": 5}),
            text_q("q5", {"question": "n", "not_equals": 0}),
            text_q("q6", {"question": "i", "equals": "x"}),
            text_q("q7", {"question": "f", "includes": "x"}),
        )
    )
    assert found == [
        "campaign.yaml: question 'q1': when uses 'equals' on 'm', a multi question whose answer is a list, so it "
        "never holds; use includes",
        "campaign.yaml: question 'q2': when uses 'not_equals' on 'm', a multi question whose answer is a list, so it "
        "holds whenever 'm' is answered; use not with includes",
        "campaign.yaml: question 'q3': when uses 'includes' on 'y', a yesno question, so it never holds; use equals",
        "campaign.yaml: question 'q4': when uses 'equals' on 'n', a number question, whose answer is never equal to "
        "a fixed value, so it never holds; only choice, multi, yesno and text answers can be compared",
        "campaign.yaml: question 'q5': when uses 'not_equals' on 'n', a number question, whose answer is never equal "
        "to a fixed value, so it holds whenever 'n' is answered; only choice, multi, yesno and text answers can be "
        "compared",
        "campaign.yaml: question 'q6': when uses 'equals' on 'i', an info question, which leaves no answer, so it "
        "never holds",
        "campaign.yaml: question 'q7': when uses 'includes' on 'f', a attachments question, so it never holds; "
        "includes only works on multi questions",
    ]


def test_reachable_branches_are_not_reported():
    flow = parse_flow(
        flow_with(
            YESNO,
            {"id": "m", "type": "multi", "text": T, "required": False, "options": opts("a", "b")},
            {"id": "c", "type": "choice", "text": T, "when": YES_Y, "options": opts("a", "b")},
            text_q("name"),
            text_q("x", {"question": "name", "equals": "Anvar"}),
            text_q("w", {"not": {"question": "m", "includes": ["a", "b"]}}),
            text_q("v", {"all": [{"not": {"question": "c", "equals": "a"}}, {"question": "y", "equals": "no"}]}),
            text_q("u", {"all": [{"question": "m", "includes": "a"}, {"question": "m", "includes": "b"}]}),
            text_q("t", {"any": [{"question": "y", "equals": "no"}, {"question": "c", "in": ["a", "b"]}]}),
            text_q("s", {"not": {"all": [YES_Y, {"question": "y", "equals": "no"}]}}),
        ),
        source="reachable",
    )
    assert [question.id for question in flow.questions][-6:] == ["x", "w", "v", "u", "t", "s"]


def _all_paths(flow) -> set[str]:
    """Every question the engine's own rules can ever ask, trying every combination of answers."""
    asked: set[str] = set()

    def walk(index: int, answers: dict[str, Any]) -> None:
        if index == len(flow.questions):
            return
        question = flow.questions[index]
        if not question.applies(answers):
            walk(index + 1, answers)
            return
        asked.add(question.id)
        for answer in _answers(question):
            walk(index + 1, {**answers, question.id: answer} if question.asks else answers)

    walk(0, {})
    return asked


def _answers(question) -> list[Any]:
    skip = [] if question.required else [None]
    ids = [option.id for option in question.options]
    if question.type is QuestionType.YESNO:
        return ["yes", "no", *skip]
    if question.type is QuestionType.CHOICE:
        return [*ids, *skip]
    if question.type is QuestionType.MULTI:
        return [list(c) for size in range(1, len(ids) + 1) for c in itertools.combinations(ids, size)] + skip
    return ["a", "b", "c", "something else", *skip]


def _random_condition(rng: random.Random, earlier: list[dict], depth: int = 0) -> dict:
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        return {rng.choice(["all", "any"]): [_random_condition(rng, earlier, depth + 1) for _ in range(2)]}
    if depth < 2 and roll < 0.4:
        return {"not": _random_condition(rng, earlier, depth + 1)}
    target = rng.choice(earlier)
    values = ["yes", "no"] if target["type"] == "yesno" else ["a", "b", "c"]
    if target["type"] == "multi":
        return {"question": target["id"], "includes": rng.sample(values, rng.randint(1, 2))}
    operator = rng.choice(["equals", "not_equals", "in"])
    return {"question": target["id"], operator: rng.sample(values, rng.randint(1, 2))}


def _random_flows(seed: int, count: int) -> Iterator[list[dict]]:
    rng = random.Random(seed)
    for _ in range(count):
        questions: list[dict] = []
        for index in range(5):
            kind = rng.choice(["yesno", "choice", "multi", "text"])
            question = {"id": f"q{index}", "type": kind, "text": T, "required": rng.random() < 0.6}
            if kind in ("choice", "multi"):
                question["options"] = opts("a", "b", "c")
            if index and rng.random() < 0.7:
                question["when"] = _random_condition(rng, questions)
            questions.append(question)
        yield questions


def _reported_never(questions: list[dict]) -> set[str]:
    try:
        parse_flow(flow_with(*questions), source="random")
    except FlowError as error:
        assert all("can never be asked" in p.message for p in error.problems), error
        return {problem.question for problem in error.problems}
    return set()


def test_never_asked_is_exact_on_random_flows():
    """What the loader calls never asked is exactly what no combination of answers asks."""
    reported = 0
    for questions in _random_flows(2026, 300):
        never = _reported_never(questions)
        flow = _unchecked(questions)
        assert never == {question.id for question in flow.questions} - _all_paths(flow), questions
        reported += len(never)
    assert reported > 20


def test_the_coarse_test_for_very_branched_flows_is_sound(monkeypatch):
    monkeypatch.setattr(loader, "MAX_STATES", 0)
    reported = 0
    for questions in _random_flows(7, 300):
        never = _reported_never(questions)
        assert not never & _all_paths(_unchecked(questions)), questions
        reported += len(never)
    assert reported > 10


def _unchecked(questions: list[dict]):
    """The same flow built without the reachability check, to run the engine's rules on it."""
    parser = loader._Parser("random")
    parser.languages = ("en", "ru")
    built = [parser.question(raw, position) for position, raw in enumerate(questions, start=1)]
    return loader.Flow("random", 1, ("en", "ru"), T, tuple(built))


# ---- per-type keys, options and regions ---------------------------------------------------------------------


def test_keys_that_do_not_fit_the_question_type():
    found = problems(
        flow_with(
            YESNO,
            {"id": "i", "type": "info", "text": T, "required": True, "options": opts("a"), "urgent_if": ["a"]},
            {"id": "f", "type": "attachments", "text": T, "options": opts("a"), "min": 1, "max": 3},
            {"id": "r", "type": "region", "text": T, "countries": [], "options": opts("a")},
            {"id": "r2", "type": "region", "text": T, "countries": ["UZ", "XX", "UZ"]},
            {"id": "yn", "type": "yesno", "text": T, "options": opts("a")},
            {"id": "t", "type": "text", "text": T, "max": 3, "max_files": 2},
        )
    )
    assert found == [
        "campaign.yaml: question 'i': info questions cannot have options",
        "campaign.yaml: question 'i': info questions cannot be required: they show a text and ask nothing",
        "campaign.yaml: question 'i': urgent_if only works on choice, multi and yesno questions",
        "campaign.yaml: question 'f': attachments questions cannot have options; the reporter sends files, then "
        "presses Done",
        "campaign.yaml: question 'f': attachments questions cannot have min; use max_files",
        "campaign.yaml: question 'f': attachments questions cannot have max; use max_files",
        "campaign.yaml: question 'r': region questions cannot have options; the bot shows the countries listed in "
        "countries, then their regions",
        "campaign.yaml: question 'r': a region question needs at least one country (known: UZ, KZ, TM)",
        "campaign.yaml: question 'r2': country 'UZ' is listed twice",
        "campaign.yaml: question 'r2': country 'XX' has no region list (known: UZ, KZ, TM)",
        "campaign.yaml: question 'yn': yesno questions cannot have options; the bot shows its own Yes and No buttons",
        "campaign.yaml: question 't': text questions cannot have max; use max_length",
        "campaign.yaml: question 't': text questions cannot have max_files",
    ]


def test_unknown_keys_suggest_the_intended_one():
    raw = flow_with(
        {"id": "c", "type": "choice", "text": T, "requried": False, "options": [{"id": "a", "txt": T}]},
        languages=("en", "ru"),
    )
    raw["question"] = []
    assert problems(raw) == [
        "campaign.yaml: unknown key 'question' in the flow: did you mean 'questions'?",
        "campaign.yaml: question 'c': unknown key 'requried' in a question: did you mean 'required'?",
        "campaign.yaml: question 'c': unknown key 'txt' in option 'a': did you mean 'text'?",
        "campaign.yaml: question 'c': option 'a' must give a text for each of en, ru",
    ]


def test_two_buttons_with_the_same_label():
    options = [
        {"id": "a", "text": {"en": "Other", "ru": "Другое"}},
        {"id": "b", "text": {"en": " other ", "ru": "Иное"}},
        {"id": "c", "text": {"en": "More", "ru": "Другое"}},
    ]
    assert problems(flow_with({"id": "q", "type": "multi", "text": T, "options": options})) == [
        "campaign.yaml: question 'q': language 'en': options 'a' and 'b' have the same text 'other'",
        "campaign.yaml: question 'q': language 'ru': options 'a' and 'c' have the same text 'Другое'",
    ]


def test_values_of_the_wrong_kind_are_problems_not_crashes():
    found = problems(
        flow_with(
            YESNO,
            {"id": "t", "type": "text", "text": T, "max_length": "lots", "required": "maybe"},
            {"id": "f", "type": "attachments", "text": T, "max_files": 2.5},
            {"id": "r", "type": "region", "text": T, "countries": "UZ"},
            {"id": "d", "type": "yesno", "text": T, "urgent_if": True, "when": {"all": []}},
            {"id": "e", "type": "yesno", "text": T, "when": {"all": [YES_Y], "question": "y"}},
            {"id": "g", "type": "yesno", "text": T, "when": {"question": "y", "equals": "yes", "note": 1}},
            {"type": "yesno", "text": T},
        )
    )
    assert found == [
        "campaign.yaml: question 't': required must be true or false",
        "campaign.yaml: question 't': max_length must be a whole number",
        "campaign.yaml: question 'f': max_files must be a whole number",
        "campaign.yaml: question 'r': countries must be a list of country codes such as [UZ, KZ, TM]",
        "campaign.yaml: question 'd': when: 'all' needs a list of conditions",
        "campaign.yaml: question 'e': when: 'all' cannot stand beside 'question' in one mapping; put each test "
        "inside it",
        "campaign.yaml: question 'g': unknown key 'note' in when",
        "campaign.yaml: question '#8': id must be 1-24 characters of a-z, 0-9 or '_'",
    ]


def test_a_flow_must_ask_something():
    assert problems(flow_with({"id": "hello", "type": "info", "text": T})) == [
        "campaign.yaml: the flow asks nothing: add at least one question that is not info"
    ]


# ---- the quick report -----------------------------------------------------------------------------------------


def test_a_quick_report_can_always_be_completed():
    found = problems(
        flow_with(
            YESNO,
            {"id": "note", "type": "info", "text": T, "quick": True},
            {"id": "now", "type": "yesno", "text": T, "quick": "yes"},
            {"id": "kids", "type": "yesno", "text": T, "quick": True, "when": {"question": "y", "equals": "yes"}},
            {"id": "ages", "type": "yesno", "text": T, "quick": True, "when": {"question": "kids", "equals": "yes"}},
        )
    )
    assert found == [
        "campaign.yaml: question 'note': info questions cannot be quick: the quick report shows only questions; put "
        "what it must say into a quick question's hint",
        "campaign.yaml: question 'now': quick must be true or false",
        "campaign.yaml: question 'kids': when refers to 'y', which is not quick: the quick report never asks it "
        "(mark 'y' quick too, or remove the condition)",
        "campaign.yaml: the quick report has no text question: mark a text question quick, for the reporter's own "
        "words",
    ]


def test_the_reporters_own_words_are_always_asked_in_a_quick_report():
    found = problems(
        flow_with(
            {**YESNO, "quick": True},
            text_q("story", {"question": "y", "equals": "yes"}, quick=True),
            text_q("more", quick=True),
        )
    )
    assert found == [
        "campaign.yaml: question 'story': the first quick text question takes the reporter's own words, so it "
        "cannot have a when"
    ]


def test_a_flow_with_a_quick_path_and_one_without():
    flow = parse_flow(flow_with(YESNO, text_q("story", quick=True), {**YESNO, "id": "z", "quick": True}), "c.yaml")
    assert [question.id for question in flow.quick_questions] == ["story", "z"]
    assert flow.description_question.id == "story"
    plain = parse_flow(flow_with(YESNO, text_q("a", required=False), text_q("b")), "c.yaml")
    assert plain.quick_questions == () and plain.description_question.id == "b"  # the first required text


# ---- Telegram's limits --------------------------------------------------------------------------------------


def test_message_button_and_title_limits():
    long_info = {"en": "x" * 4000, "ru": "текст"}
    found = problems(
        flow_with(
            YESNO,
            {"id": "i", "type": "info", "text": long_info, "hint": {"en": "h" * 100, "ru": "п"}},
            {"id": "ok", "type": "info", "text": {"en": "x" * 3000, "ru": "😀" * 2000}},
            {"id": "c", "type": "choice", "text": T, "options": [{"id": "a", "text": {"en": "b" * 61, "ru": "в"}}]},
            title={"en": "t" * 61, "ru": "т"},
        )
    )
    assert found == [
        "campaign.yaml: language 'en': title is longer than 60 characters",
        "campaign.yaml: question 'i': language 'en': the message in Telegram (text, hint and the bot's own lines) "
        "would be 4102 characters, over Telegram's limit of 4096: shorten the text or the hint",
        "campaign.yaml: question 'c': language 'en': option 'a' is longer than 60 characters",
    ]


def test_emoji_count_double_towards_the_message_limit():
    found = problems(flow_with(YESNO, {"id": "i", "type": "info", "text": {"en": "x", "ru": "😀" * 2100}}))
    assert found == [
        "campaign.yaml: question 'i': language 'ru': the message in Telegram (text, hint and the bot's own lines) "
        "would be 4200 characters, over Telegram's limit of 4096: shorten the text or the hint"
    ]


def test_the_bots_own_lines_count_towards_the_limit(monkeypatch):
    """With longer questions allowed, "(optional)" and the multi question's "press Done" line would not fit."""
    monkeypatch.setattr(loader, "MAX_QUESTION_TEXT", 4096)
    question = {"id": "m", "type": "multi", "text": {"en": "x" * 4030, "ru": "м"}, "options": opts("a")}
    assert parse_flow(flow_with(YESNO, question), source="ok")
    question["required"] = False
    assert problems(flow_with(YESNO, question)) == [
        "campaign.yaml: question 'm': language 'en': the message in Telegram (text, hint and the bot's own lines) "
        "would be 4103 characters, over Telegram's limit of 4096: shorten the text or the hint"
    ]


def test_button_data_over_64_bytes(monkeypatch):
    monkeypatch.setattr(loader, "ID_PATTERN", re.compile(r"^[a-z0-9_]{1,40}$"))
    question = {"id": "q" * 30, "type": "choice", "text": T, "options": opts("o" * 30)}
    data = f"opt:{'q' * 30}:{'o' * 30}"
    assert problems(flow_with(YESNO, question)) == [
        f"campaign.yaml: question '{'q' * 30}': the button data '{data}' is 65 bytes, over Telegram's limit of 64: "
        "shorten the question or option id"
    ]


# ---- languages ----------------------------------------------------------------------------------------------


def test_languages_need_a_bot_catalogue():
    de = {"en": "Question", "de": "Frage"}
    found = problems(flow_with({"id": "q", "type": "text", "text": de}, languages=("en", "de", "en"), title=de))
    known = ", ".join(LANGUAGES)
    assert found == [
        "campaign.yaml: language 'en' is listed twice in languages",
        f"campaign.yaml: language 'de' has no bot catalogue (known: {known})",
    ]


def test_every_bot_language_can_be_a_flow_language():
    texts = {language: f"Q {language}" for language in LANGUAGES}
    flow = parse_flow(flow_with({"id": "q", "type": "yesno", "text": texts}, languages=LANGUAGES, title=texts), "x")
    assert flow.languages == LANGUAGES


# ---- YAML files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"id: x\n languages: [en]\n",
            "YAML syntax error at line 2, column 11: a ':' is not allowed here: check the indentation, or put the "
            "text in quotes",
        ),
        (
            b"questions:\n\t- id: a\n",
            "YAML syntax error at line 2, column 1: tab characters cannot indent YAML: use spaces",
        ),
        (
            b"id: x\ntitle: {en: 'Cotton\n",
            "YAML syntax error at line 3, column 1: a quoted text is not closed (the quote opens on line 2)",
        ),
        (
            b"questions:\n  - id: a\n - id: b\n",
            "YAML syntax error at line 3, column 2: this line is not indented like the lines above it",
        ),
        (
            b"title:\n  en: Cotton\n  ru: Hlopok\n  en: Silk\n",
            "YAML syntax error at line 4, column 3: the key 'en' appears twice in one block (first on line 2)",
        ),
        (b"id: x\ntitle: \xff\n", "the file is not UTF-8 text (line 2): save it as UTF-8"),
    ],
)
def test_yaml_errors_name_line_and_column(tmp_path, content, message):
    path = tmp_path / "flow.yaml"
    path.write_bytes(content)
    with pytest.raises(FlowError) as caught:
        load_flow_file(path)
    assert [str(problem) for problem in caught.value.problems] == [f"{path}: {message}"]


# ---- JSON Schema --------------------------------------------------------------------------------------------


def _schema_errors(instance: Any, schema: Any, root: dict, path: str = "$") -> list[str]:
    """A small validator for the keywords flow_schema uses (jsonschema is not a dependency)."""
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: not allowed"]
    errors: list[str] = []
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        errors += _schema_errors(instance, target, root, path)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        }
        if not any(checks[kind](instance) for kind in kinds):
            return [*errors, f"{path}: not of type {kinds}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in enum")
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{path}: {instance!r} is not {schema['const']!r}")
    if isinstance(instance, str):
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{path}: {instance!r} does not match {schema['pattern']}")
        if len(instance) < schema.get("minLength", 0) or len(instance) > schema.get("maxLength", 10**9):
            errors.append(f"{path}: wrong length")
    number = isinstance(instance, int | float) and not isinstance(instance, bool)
    if number and not schema.get("minimum", float("-inf")) <= instance <= schema.get("maximum", float("inf")):
        errors.append(f"{path}: out of range")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{path}: too few items")
        if schema.get("uniqueItems") and len({repr(item) for item in instance}) != len(instance):
            errors.append(f"{path}: items repeat")
        if "items" in schema:
            for index, item in enumerate(instance):
                errors += _schema_errors(item, schema["items"], root, f"{path}[{index}]")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing {key}")
        if not schema.get("minProperties", 0) <= len(instance) <= schema.get("maxProperties", 10**9):
            errors.append(f"{path}: wrong number of keys")
        for key, value in instance.items():
            if key in properties:
                errors += _schema_errors(value, properties[key], root, f"{path}.{key}")
            elif "additionalProperties" in schema:
                errors += _schema_errors(value, schema["additionalProperties"], root, f"{path}.{key}")
            if "propertyNames" in schema:
                errors += _schema_errors(key, schema["propertyNames"], root, f"{path}.{key} (name)")
    for part in schema.get("allOf", []):
        errors += _schema_errors(instance, part, root, path)
    if "anyOf" in schema and all(_schema_errors(instance, part, root, path) for part in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        matching = [part for part in schema["oneOf"] if not _schema_errors(instance, part, root, path)]
        if len(matching) != 1:
            errors.append(f"{path}: matches {len(matching)} of oneOf")
    if "if" in schema:
        branch = "then" if not _schema_errors(instance, schema["if"], root, path) else "else"
        if branch in schema:
            errors += _schema_errors(instance, schema[branch], root, path)
    return errors


def schema_errors(instance: Any) -> list[str]:
    schema = flow_schema()
    errors = _schema_errors(instance, schema, schema)
    try:
        import jsonschema
    except ImportError:
        return errors
    validator = jsonschema.Draft202012Validator(schema)
    assert bool(errors) == bool(list(validator.iter_errors(instance)))
    return errors


def default_raw() -> dict[str, Any]:
    return yaml.safe_load((DEFAULT_FLOW_DIR / "forced_labour.yaml").read_text(encoding="utf-8"))


def question_in(raw: dict[str, Any], question_id: str) -> dict[str, Any]:
    return next(question for question in raw["questions"] if question["id"] == question_id)


def info_in(raw: dict[str, Any]) -> dict[str, Any]:
    """An info screen with the texts of the flow's first question."""
    return {"id": "note", "type": "info", "text": dict(raw["questions"][0]["text"])}


def test_the_default_flow_matches_the_schema():
    assert schema_errors(default_raw()) == []
    [flow] = load_default_flows()
    assert schema_errors(flow_to_raw(flow)) == []


def test_the_schema_describes_every_key_and_lists_types_and_languages():
    schema = flow_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    question = schema["$defs"]["question"]
    assert question["properties"]["type"]["enum"] == [kind.value for kind in QuestionType]
    assert schema["$defs"]["language"]["enum"] == list(LANGUAGES)
    assert set(question["properties"]) == set(loader.QUESTION_KEYS)
    assert set(schema["properties"]) == set(loader.FLOW_KEYS)

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                if isinstance(value, dict) and not re.search(r"\.(if|then|else)\b", where):
                    assert value.get("description"), f"{where}.{key} has no description"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema, "$")
    for name, definition in schema["$defs"].items():
        assert definition.get("description"), name
    assert schema_text().startswith("{\n")


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw.update(colour="red"),
        lambda raw: raw["questions"][0].update(requried=False),
        lambda raw: raw["questions"][0].update(id="What"),
        lambda raw: raw["questions"][0].update(type="dropdown"),
        lambda raw: raw.update(languages=["ru", "de"]),
        lambda raw: raw["questions"][-2].update(options=[{"id": "a", "text": {"en": "A"}}]),
        lambda raw: raw["questions"][-2].update(min=1),
        lambda raw: question_in(raw, "region").update(countries=[]),
        lambda raw: raw["questions"][3].update(when={"question": "what", "includes": "quota", "equals": "x"}),
        lambda raw: raw["questions"][3].update(when={"all": []}),
        lambda raw: raw["questions"][3].update(when={"nor": [{"question": "what", "includes": "quota"}]}),
        lambda raw: raw["questions"][1].pop("options"),
        lambda raw: raw["questions"].append({**info_in(raw), "required": True}),
        lambda raw: raw["questions"].append({**info_in(raw), "quick": True}),
        lambda raw: question_in(raw, "period").update(quick="yes"),
        lambda raw: raw["questions"][0]["options"][0]["text"].update(en="x" * 61),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(change):
    raw = default_raw()
    change(raw)
    assert schema_errors(raw)
    with pytest.raises(FlowError):
        parse_flow(raw, source="changed")


# ---- docs/flows.md ------------------------------------------------------------------------------------------


def test_the_example_in_the_docs_is_valid(tmp_path):
    docs = (DEFAULT_FLOW_DIR.parent.parent.parent / "docs" / "flows.md").read_text(encoding="utf-8")
    example = docs.split("## A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "silk-2026.yaml"
    path.write_text(example, encoding="utf-8")
    flow = load_flow_file(path)
    assert flow.id == "silk-2026" and len(flow.questions) == 11
    assert {question.type for question in flow.questions} == set(QuestionType)
    assert schema_errors(yaml.safe_load(example)) == []
    assert flow.is_urgent({"what": ["violence"]}) and flow.is_urgent({"danger_now": "yes"})


FIXED_MESSAGES = (
    "the first question cannot have a when: there are no earlier answers to branch on",
    "when refers to itself",
    "the flow asks nothing: add at least one question that is not info",
    "info questions cannot be required: they show a text and ask nothing",
    "urgent_if only works on choice, multi and yesno questions",
    "attachments questions cannot have min; use max_files",
    "text questions cannot have max; use max_length",
    "yesno questions cannot have options; the bot shows its own Yes and No buttons",
    "a region question needs at least one country (known: UZ, KZ, TM)",
    "required must be true or false",
    "the message in Telegram (text, hint and the bot's own lines) would be N characters, over Telegram's limit "
    "of 4096: shorten the text or the hint",
    "can never be asked: its condition needs 'q' to be both 'yes' and 'no'",
    "can never be asked: its condition needs an answer to 'q', which is itself never asked",
    "can never be asked: no combination of earlier answers makes its condition hold",
    "when uses 'includes' on 'q', a yesno question, so it never holds; use equals",
    "when uses 'equals' on 'q', a multi question whose answer is a list, so it never holds; use includes",
    "when: 'all' cannot stand beside 'question' in one mapping; put each test inside it",
    f"language 'de' has no bot catalogue (known: {', '.join(LANGUAGES)})",
    "YAML syntax error at line L, column C: tab characters cannot indent YAML: use spaces",
    "quick must be true or false",
    "info questions cannot be quick: the quick report shows only questions; put what it must say into a quick "
    "question's hint",
    "when refers to 'q', which is not quick: the quick report never asks it (mark 'q' quick too, or remove the "
    "condition)",
    "the quick report has no text question: mark a text question quick, for the reporter's own words",
    "the first quick text question takes the reporter's own words, so it cannot have a when",
)


def test_the_docs_quote_the_messages_word_for_word():
    docs = (DEFAULT_FLOW_DIR.parent.parent.parent / "docs" / "flows.md").read_text(encoding="utf-8")
    for message in FIXED_MESSAGES:
        assert f"`{message}`" in docs, message
