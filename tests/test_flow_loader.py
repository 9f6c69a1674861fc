"""Flow files: the shipped default flow is valid, and every problem names file, question and language."""

from __future__ import annotations

import time
import tracemalloc

import pytest
import yaml

from bot.flow_admin import read_flow_file
from bot.flows.loader import DEFAULT_FLOW_DIR, FlowError, load_default_flows, parse_flow, read_flow_yaml
from bot.flows.model import QuestionType

from .cli import ROOT, tipbot

T = {"en": "Question", "ru": "Вопрос"}


def flow_with(*questions, languages=("en", "ru")):
    return {
        "id": "campaign",
        "version": 1,
        "languages": list(languages),
        "title": T,
        "questions": list(questions),
    }


def problems(raw) -> list[str]:
    with pytest.raises(FlowError) as caught:
        parse_flow(raw, source="campaign.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_default_flow_covers_the_issue():
    [flow] = load_default_flows()
    assert flow.id == "forced-labour" and flow.languages == ("ru", "uz", "kk", "en", "tk", "uz_Cyrl")
    types = {question.type for question in flow.questions}
    assert types >= {
        QuestionType.MULTI,
        QuestionType.CHOICE,
        QuestionType.YESNO,
        QuestionType.TEXT,
        QuestionType.NUMBER,
        QuestionType.DATE,
        QuestionType.REGION,
        QuestionType.ATTACHMENTS,
    }
    assert [question.id for question in flow.quick_questions] == ["description", "region"]
    ids = [question.id for question in flow.questions]
    for needed in (
        "what",
        "sector",
        "region",
        "period",
        "people",
        "children",
        "children_ages",
        "ordered_by",
        "description",
        "evidence",
        "danger_now",
    ):
        assert needed in ids
    assert flow.question("danger_now").urgent_if == ("yes",)
    assert flow.question("children_ages").when is not None


def test_missing_translation_names_question_and_language():
    assert problems(flow_with({"id": "q1", "type": "text", "text": {"en": "Where?"}})) == [
        "campaign.yaml: question 'q1': language 'ru': text is missing a translation"
    ]


def test_unknown_type_duplicate_ids_and_option_problems():
    found = problems(
        flow_with(
            {"id": "q1", "type": "dropdown", "text": T},
            {"id": "q2", "type": "choice", "text": T, "options": []},
            {"id": "q2", "type": "text", "text": T},
            {
                "id": "q3",
                "type": "multi",
                "text": T,
                "options": [{"id": "a", "text": T}, {"id": "a", "text": T}],
            },
        )
    )
    assert any("question 'q1': type 'dropdown' is not one of choice, multi" in p for p in found)
    assert "campaign.yaml: question 'q2': needs a non-empty list of options" in found
    assert "campaign.yaml: question 'q2': this id is used by two questions" in found
    assert "campaign.yaml: question 'q3': option id 'a' is used twice" in found


def test_yaml_bare_yes_is_read_as_the_yes_answer():
    flow = parse_flow(
        yaml.safe_load("""
id: campaign
languages: [en]
title: {en: t}
questions:
  - {id: danger, type: yesno, text: {en: "Danger?"}, urgent_if: [yes]}
  - {id: who, type: text, text: {en: "Who?"}, when: {question: danger, equals: yes}}
"""),
        source="campaign.yaml",
    )
    assert flow.question("danger").urgent_if == ("yes",)
    assert flow.question("who").applies({"danger": "yes"})


def test_limits_and_region_countries_are_checked():
    found = problems(
        flow_with(
            {"id": "n", "type": "number", "text": T, "min": 10, "max": 1},
            {"id": "r", "type": "region", "text": T, "countries": ["UZ", "XX"]},
            {"id": "t", "type": "text", "text": {"en": "x" * 1001, "ru": "в"}},
            {"id": "u", "type": "text", "text": T, "urgent_if": ["yes"]},
        )
    )
    assert "campaign.yaml: question 'n': min is greater than max" in found
    assert "campaign.yaml: question 'r': country 'XX' has no region list (known: UZ, KZ, TM)" in found
    assert "campaign.yaml: question 't': language 'en': text is longer than 1000 characters" in found
    assert "campaign.yaml: question 'u': urgent_if only works on choice, multi and yesno questions" in found


def test_cli_validate_reports_problems_and_accepts_the_default(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(flow_with({"id": "q1", "type": "text", "text": {"en": "Where?"}})))
    default = ROOT / "bot" / "flows" / "default" / "forced_labour.yaml"
    result = tipbot("flows", "validate", str(default), str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{default}: ok: flow 'forced-labour' version 1" in result.stdout
    assert f"{broken}: question 'q1': language 'ru': text is missing a translation" in result.stdout


def number_flow(*conditions):
    questions = [{"id": "people", "type": "number", "text": T}]
    questions += [{"id": f"q{n}", "type": "text", "text": T, "when": when} for n, when in enumerate(conditions)]
    return flow_with(*questions)


def test_number_questions_branch_on_limits():
    flow = parse_flow(number_flow({"all": [{"question": "people", "ge": 10}, {"question": "people", "le": 20}]}), "f")
    assert flow.question("q0").applies({"people": 15}) and not flow.question("q0").applies({"people": 25})
    assert not flow.question("q0").applies({})


def test_number_comparison_problems():
    found = problems(
        number_flow(
            {"all": [{"question": "people", "ge": 10}, {"question": "people", "lt": 5}]},
            {"question": "people", "gt": "ten"},
        )
    )
    assert (
        "campaign.yaml: question 'q0': can never be asked: its condition needs 'people' to be both ≥ 10 and < 5"
        in found
    )
    assert "campaign.yaml: question 'q1': when: 'gt' compares a number question with one number, such as 18" in found
    choice = problems(
        flow_with(
            {"id": "kind", "type": "yesno", "text": T},
            {"id": "q", "type": "text", "text": T, "when": {"question": "kind", "ge": 1}},
        )
    )
    assert choice == [
        "campaign.yaml: question 'q': when uses 'ge' on 'kind', a yesno question, so it never holds; "
        "ge only works on number questions"
    ]


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
NO_ALIASES = "anchors and aliases (&name, *name) are not allowed in a flow file: write each part out in full"


def yaml_problems(data: bytes) -> list[str]:
    with pytest.raises(FlowError) as caught:
        read_flow_file("upload.yaml", data)
    return [str(problem) for problem in caught.value.problems]


def test_an_alias_bomb_is_refused_before_it_expands():
    tracemalloc.start()
    started = time.perf_counter()
    found = yaml_problems(BILLION_LAUGHS)
    took = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found == [f"upload.yaml: YAML syntax error at line 1, column 4: {NO_ALIASES}"]
    assert took < 0.5 and peak < 2_000_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"title: &t {en: T}\nother: *t\n", f"line 1, column 8: {NO_ALIASES}"),
        (b"title: {en: T}\nother: *t\n", f"line 2, column 8: {NO_ALIASES}"),
        (
            b"title: {<<: {en: T}, ru: R}\n",
            "line 1, column 9: '<<' merge keys are not allowed in a flow file: write the keys out",
        ),
        (
            b"title: !!binary aGk=\n",
            "line 1, column 8: the tag !!binary is not allowed in a flow file: use plain texts, numbers and lists",
        ),
        (
            b"questions: !!set {a, b}\n",
            "line 1, column 12: the tag !!set is not allowed in a flow file: use plain texts, numbers and lists",
        ),
        (b"? [a, b]\n: c\n", "line 1, column 3: a key must be a plain text, not a list or a block"),
        (b"[" * 10_000 + b"]" * 10_000, "line 1, column 51: lists and blocks are nested more than 50 levels deep"),
    ],
)
def test_yaml_beyond_plain_data_is_refused_with_its_line(content, message):
    assert yaml_problems(content) == [f"upload.yaml: YAML syntax error at {message}"]


def test_a_flow_without_aliases_still_loads_and_a_bom_is_fine():
    shipped = (DEFAULT_FLOW_DIR / "forced_labour.yaml").read_bytes()
    upload = read_flow_file("forced_labour.yaml", b"\xef\xbb\xbf" + shipped)
    assert upload.flow == load_default_flows()[0]
    assert read_flow_yaml("id: x\nday: 2026-09-01\nwho: !!str 5\n", "x.yaml")["who"] == "5"


def test_cli_validate_refuses_an_alias_bomb_without_a_traceback(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_bytes(BILLION_LAUGHS)
    result = tipbot("flows", "validate", str(bomb), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{bomb}: YAML syntax error at line 1, column 4: {NO_ALIASES}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
