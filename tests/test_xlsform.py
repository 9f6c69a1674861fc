"""XLSForm import and export: the default flow survives a round trip, a hand-written form imports into the
expected model, and everything the bot cannot do is a problem that names its row and column."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from bot.flows.loader import FlowError, load_default_flows, parse_flow
from bot.flows.model import AllOf, AnyOf, Compare, Flow, Not, Option, Question, QuestionType
from bot.flows.xlsform import read_xlsform, write_xlsform, xlsform_to_raw

RU, EN = "label::Russian (ru)", "label::English (en)"
SETTINGS = [
    ("form_id", "version", "form_title::Russian (ru)", "form_title::English (en)", "default_language"),
    ("campaign", 3, "Кампания", "Campaign", "English (en)"),
]


def xlsx(sheets: dict[str, list[tuple]]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def survey(header: tuple[str, ...], *rows: dict) -> list[tuple]:
    """A survey sheet from rows given as {column: value}; the header fixes the column order."""
    return [header, *(tuple(row.get(column) for column in header) for row in rows)]


def problems(data: bytes) -> list[str]:
    with pytest.raises(FlowError) as caught:
        read_xlsform(data, "forms.xlsx")
    return [str(problem) for problem in caught.value.problems]


# ---- round trip ---------------------------------------------------------------------------------------------


def test_the_default_flow_survives_a_round_trip():
    [flow] = load_default_flows()
    data = write_xlsform(flow)
    assert read_xlsform(data, "forced-labour.xlsx") == flow
    assert write_xlsform(flow) == data  # nothing in the file depends on when it was made


def test_every_kind_of_condition_survives_a_round_trip():
    texts = {"en": "Question"}
    options = [{"id": name, "text": {"en": name.title()}} for name in ("a", "b", "c")]
    raw = {
        "id": "conditions",
        "version": 2,
        "languages": ["en"],
        "title": {"en": "Conditions"},
        "questions": [
            {"id": "one", "type": "choice", "text": texts, "options": options},
            {"id": "many", "type": "multi", "text": texts, "options": options, "urgent_if": ["a", "b"]},
            {"id": "words", "type": "text", "text": texts, "required": False, "max_length": 300},
            {"id": "q1", "type": "info", "text": texts, "when": {"question": "one", "equals": ["a", "b"]}},
            {"id": "q2", "type": "info", "text": texts, "when": {"question": "one", "not_equals": ["a", "b"]}},
            {"id": "q3", "type": "info", "text": texts, "when": {"question": "many", "includes": ["a", "c"]}},
            {"id": "q4", "type": "info", "text": texts, "when": {"question": "words", "equals": "it's"}},
            {
                "id": "q5",
                "type": "info",
                "text": texts,
                "when": {
                    "any": [
                        {"all": [{"question": "one", "equals": "a"}, {"question": "many", "includes": "b"}]},
                        {"not": {"any": [{"question": "one", "equals": "c"}, {"question": "words", "equals": "x"}]}},
                        {"all": [{"question": "one", "not_equals": "b"}, {"question": "one", "equals": ["a", "c"]}]},
                    ]
                },
            },
            {"id": "count", "type": "number", "text": texts, "min": 0.5, "max": 7.25},
            {"id": "place", "type": "region", "text": texts, "countries": ["KZ"]},
            {"id": "proof", "type": "attachments", "text": texts, "max_files": 3, "required": False},
        ],
    }
    flow = parse_flow(raw, "conditions.yaml")
    assert read_xlsform(write_xlsform(flow), "conditions.xlsx") == flow


def test_the_export_is_an_ordinary_xlsform():
    [flow] = load_default_flows()
    workbook = load_workbook(io.BytesIO(write_xlsform(flow)))
    assert workbook.sheetnames == ["survey", "choices", "settings"]
    rows = {row[1]: row for row in workbook["survey"].iter_rows(min_row=2, values_only=True)}
    header = [cell.value for cell in workbook["survey"][1]]
    column = {name: header.index(name) for name in header}
    assert header[:4] == ["type", "name", "label::Russian (ru)", "label::Uzbek (uz)"]
    if "uz_Cyrl" in flow.languages:
        assert "label::Uzbek (Cyrillic) (uz_Cyrl)" in header
    assert rows["children"][column["type"]] == "select_one yes_no"
    assert rows["children_ages"][column["relevant"]] == "${children} = 'yes'"
    assert rows["quota_kg"][column["type"]] == "decimal"
    assert rows["quota_kg"][column["constraint"]] == ". >= 1 and . <= 1000"
    assert rows["quota_kg"][column["relevant"]] == "selected(${what}, 'quota')"
    assert rows["description"][column["constraint"]] == "string-length(.) <= 2000"
    assert rows["evidence"][column["parameters"]] == "max_files=10"
    assert rows["region"][column["parameters"]] == "countries=UZ KZ TM"
    assert rows["danger_now"][column["urgent_if"]] == "yes"
    assert rows["evidence"][column["type"]] == "file" and rows["evidence"][column["required"]] is None
    assert [name for name, row in rows.items() if row[column["quick"]] == "yes"] == ["description", "region"]
    assert rows["what"][column["quick"]] is None
    yes_no = [row for row in workbook["choices"].iter_rows(values_only=True) if row[0] == "yes_no"]
    assert [row[:4] for row in yes_no] == [("yes_no", "yes", "Да", "Ha"), ("yes_no", "no", "Нет", "Yo‘q")]
    settings = list(workbook["settings"].iter_rows(values_only=True))
    assert settings[0][:3] == ("form_id", "version", "form_title::Russian (ru)")
    assert settings[1][:2] == ("forced-labour", flow.version) and settings[1][-1] == "Russian (ru)"


# ---- a form written by hand ---------------------------------------------------------------------------------

HEADER = (
    "type",
    "name",
    RU,
    EN,
    "hint::Russian (ru)",
    "hint::English (en)",
    "required",
    "relevant",
    "constraint",
    "constraint_message::Russian (ru)",
    "constraint_message::English (en)",
    "appearance",
    "media::image",
    "guidance_hint::English (en)",
)
HAND_WRITTEN = {
    "survey": survey(
        HEADER,
        {"type": "select_one yn", "name": "consent", RU: "Согласны?", EN: "Do you agree?", "required": "yes"},
        {
            "type": "begin group",
            "name": "about",
            RU: "О работе",
            EN: "About the work",
            "relevant": "${consent} = 'yes'",
            "appearance": "field-list",
        },
        {"type": "select_one sectors", "name": "sector", RU: "Кто?", EN: "Who?", "required": "TRUE()"},
        {"type": "select_multiple what", "name": "what", RU: "Что?", EN: "What?", "media::image": "what.png"},
        {"type": "begin_group", "name": "kids", "relevant": "selected(${what}, 'child_labour')"},
        {
            "type": "integer",
            "name": "kids_count",
            RU: "Сколько детей?",
            EN: "How many children?",
            "relevant": "${sector} != 'other'",
            "constraint": ". >= 1 and . <= 500",
            "constraint_message::Russian (ru)": "От 1 до 500",
            "constraint_message::English (en)": "From 1 to 500",
        },
        {"type": "end_group"},
        {"type": "end group", "name": "about"},
        {
            "type": "text",
            "name": "details",
            RU: "Подробности",
            EN: "Details",
            "hint::Russian (ru)": "Без имён",
            "hint::English (en)": "No names",
            "required": True,
            "relevant": "not(${sector} = 'farm') and (selected(${what}, 'wages') or ${consent} = 'yes')",
            "constraint": "string-length(.) <= 500",
            "appearance": "multiline",
            "guidance_hint::English (en)": "For interviewers only",
        },
        {"type": "date", "name": "when_date", RU: "Когда?", EN: "When?", "required": "yes"},
        {"type": "note", "name": "warning", RU: "Осторожно", EN: "Be careful"},
        {"type": "image", "name": "photo", RU: "Фото", EN: "Photo"},
        {"type": "image", "name": "photo2", RU: "Ещё фото", EN: "Another photo", "relevant": "${details} != ''"},
    ),
    "choices": [
        ("list_name", "name", RU, EN),
        ("yn", "yes", "Да", "Yes"),
        ("yn", "no", "Нет", "No"),
        ("sectors", "farm", "Ферма", "Farm"),
        ("sectors", "school", "Школа", "School"),
        ("sectors", "other", "Другое", "Other"),
        ("what", "wages", "Зарплата", "Wages"),
        ("what", "child_labour", "Дети", "Children"),
    ],
    "settings": SETTINGS,
}


def test_a_hand_written_form_imports_into_the_model():
    flow = read_xlsform(xlsx(HAND_WRITTEN), "forms.xlsx")
    consent = Compare("consent", "equals", ("yes",))
    assert flow == Flow(
        id="campaign",
        version=3,
        languages=("en", "ru"),  # default_language first
        title={"en": "Campaign", "ru": "Кампания"},
        questions=(
            Question("consent", QuestionType.YESNO, {"en": "Do you agree?", "ru": "Согласны?"}, required=True),
            Question(
                "sector",
                QuestionType.CHOICE,
                {"en": "Who?", "ru": "Кто?"},
                options=(
                    Option("farm", {"en": "Farm", "ru": "Ферма"}),
                    Option("school", {"en": "School", "ru": "Школа"}),
                    Option("other", {"en": "Other", "ru": "Другое"}),
                ),
                when=consent,
            ),
            Question(
                "what",
                QuestionType.MULTI,
                {"en": "What?", "ru": "Что?"},
                required=False,
                options=(
                    Option("wages", {"en": "Wages", "ru": "Зарплата"}),
                    Option("child_labour", {"en": "Children", "ru": "Дети"}),
                ),
                when=consent,
            ),
            Question(
                "kids_count",
                QuestionType.NUMBER,
                {"en": "How many children?", "ru": "Сколько детей?"},
                required=False,
                constraint_message={"en": "From 1 to 500", "ru": "От 1 до 500"},
                when=AllOf(
                    (
                        consent,
                        Compare("what", "includes", ("child_labour",)),
                        Compare("sector", "not_equals", ("other",)),
                    )
                ),
                min=1,
                max=500,
            ),
            Question(
                "details",
                QuestionType.TEXT,
                {"en": "Details", "ru": "Подробности"},
                hint={"en": "No names", "ru": "Без имён"},
                when=AllOf(
                    (
                        Not(Compare("sector", "equals", ("farm",))),
                        AnyOf((Compare("what", "includes", ("wages",)), consent)),
                    )
                ),
                max_length=500,
            ),
            Question("when_date", QuestionType.DATE, {"en": "When?", "ru": "Когда?"}),
            Question("warning", QuestionType.INFO, {"en": "Be careful", "ru": "Осторожно"}, required=False),
            Question("photo", QuestionType.ATTACHMENTS, {"en": "Photo", "ru": "Фото"}, required=False),
            Question(
                "photo2",
                QuestionType.ATTACHMENTS,
                {"en": "Another photo", "ru": "Ещё фото"},
                required=False,
                when=Compare("details", "not_equals", ("",)),
            ),
        ),
    )
    kids_count = flow.question("kids_count")
    assert kids_count is not None and (kids_count.min, kids_count.max) == (1, 500)


def test_the_raw_dict_is_what_a_flow_file_would_say():
    raw = xlsform_to_raw(xlsx(HAND_WRITTEN), "forms.xlsx")
    assert json.loads(json.dumps(raw, ensure_ascii=False)) == raw  # storable as it is
    assert raw["languages"] == ["en", "ru"] and raw["version"] == 3
    consent, sector = raw["questions"][0], raw["questions"][1]
    assert consent == {
        "id": "consent",
        "type": "yesno",
        "text": {"en": "Do you agree?", "ru": "Согласны?"},
        "required": True,
    }
    assert sector["when"] == {"question": "consent", "equals": "yes"}
    assert parse_flow(raw, "forms.xlsx") == read_xlsform(xlsx(HAND_WRITTEN), "forms.xlsx")


def colours_form(settings: list[tuple], **first: str) -> bytes:
    header = ("type", "name", "label", "label::ru", "tipbot_label", "tipbot_label::ru", "urgent_if", "parameters")
    return xlsx(
        {
            "survey": survey(
                header,
                {"type": "select one colours", "name": "colour", "label": "Colour?", "label::ru": "Цвет?", **first},
                {"type": "select_one colours", "name": "again", "label": "Again?", "label::ru": "Снова?"},
                {"type": "text", "name": "more", "label": "More?", "label::ru": "Ещё?", "parameters": "max_length=700"},
                {
                    "type": "region",
                    "name": "where",
                    "label": "Where?",
                    "label::ru": "Где?",
                    "parameters": "countries=KZ",
                },
                {"type": "file", "name": "files", "label": "Files", "label::ru": "Файлы", "parameters": "max_files=3"},
            ),
            "choices": [("list name", "name", "label", "label::Russian"), ("colours", 1, "Red", "Красный")],
            "settings": settings,
        }
    )


def test_plain_label_columns_are_the_default_language_and_short_codes_work():
    broken = colours_form([("form_id", "default_language"), ("colours", "en")], tipbot_label="Colour", urgent_if="red")
    assert problems(broken) == [
        "forms.xlsx: row 2, column settings!form_title: language 'en': title is missing a translation",
        "forms.xlsx: row 2, column settings!form_title::ru: language 'ru': title is missing a translation",
        "forms.xlsx: row 2, column tipbot_label::ru: question 'colour': language 'ru': "
        "tipbot_label is missing a translation",
        "forms.xlsx: row 2, column urgent_if: question 'colour': urgent_if names 'red', which is not an option",
    ]
    settings = [("form_id", "form_title", "form_title::ru", "default_language"), ("colours", "C", "Ц", "en")]
    flow = read_xlsform(
        colours_form(settings, tipbot_label="Colour", **{"tipbot_label::ru": "Цвет"}, urgent_if="1"), "x"
    )
    assert flow.languages == ("en", "ru") and flow.version == 1 and flow.title == {"en": "C", "ru": "Ц"}
    colour, again, more, where, files = flow.questions
    assert colour.label == {"en": "Colour", "ru": "Цвет"} and colour.urgent_if == ("1",)  # a number in Excel
    assert colour.required is False and colour.options == again.options == (
        Option("1", {"en": "Red", "ru": "Красный"}),
    )
    assert (more.max_length, where.countries, files.max_files) == (700, ("KZ",), 3)


# ---- problems -----------------------------------------------------------------------------------------------

BROKEN_HEADER = ("type", "name", RU, EN, "required", "relevant", "constraint", "calculation", "appearance", "colour")


def test_what_the_bot_cannot_do_is_a_problem_with_row_and_column():
    data = xlsx(
        {
            "survey": survey(
                BROKEN_HEADER,
                {"type": "select_one places", "name": "place", RU: "Где?", EN: "Where?", "required": "yes"},
                {"type": "geopoint", "name": "where_now", RU: "Где вы?", EN: "Where are you?"},
                {"type": "calculate", "name": "total", "calculation": "${a} + 1"},
                {"type": "begin repeat", "name": "people", RU: "Люди", EN: "People"},
                {"type": "text", "name": "person", RU: "Кто?"},
                {"type": "end repeat"},
                {"type": "integer", "name": "age", RU: "Возраст", EN: "Age", "constraint": ". != 5"},
                {"type": "text", "name": "notes", RU: "Заметки", EN: "Notes", "relevant": "${age} = 'x'"},
                {"type": "text", "name": "more", RU: "Ещё", EN: "More", "relevant": "${place} = 'home' and"},
                {"type": "select_one nolist", "name": "q2", RU: "В2", EN: "Q2"},
                {"type": "text", "name": "Bad Name", RU: "Имя", EN: "Name", "appearance": "numbers"},
                {"type": "text", "name": "extra", RU: "Доп", EN: "Extra", "colour": "blue", "required": "${a} = 1"},
                {"type": "text", "name": "later", RU: "Ок", EN: "OK", "relevant": "${place} = 'mars'"},
                {"type": "barcode", "name": "code", RU: "Код", EN: "Code"},
                {"type": "text", "name": "last", RU: "Ок", EN: "OK", "relevant": "selected(${where_now}, 'a')"},
            ),
            "choices": [("list_name", "name", RU, EN), ("places", "home", "Дом", "Home"), ("places", "work", "Работа")],
            "settings": [SETTINGS[0], ("campaign", "1.2", "Кампания", "Campaign", "English (en)")],
        }
    )
    assert problems(data) == [
        "forms.xlsx: row 2, column settings!version: version '1.2' must be a whole number, such as 3",
        "forms.xlsx: row 1, column colour: column 'colour' is not supported",
        "forms.xlsx: row 3, column type: question 'where_now': geopoint is not supported: "
        "the bot never asks for a location",
        "forms.xlsx: row 4, column type: question 'total': calculate is not supported: "
        "the bot has no calculated fields",
        "forms.xlsx: row 5, column type: question 'people': repeats are not supported: every question is asked once",
        "forms.xlsx: row 6, column label::English (en): question 'person': language 'en': "
        "label is missing a translation",
        "forms.xlsx: row 8, column constraint: question 'age': constraint is not supported: "
        "write bounds such as . >= 1 and . <= 100",
        "forms.xlsx: row 9, column relevant: question 'notes': relevant: a number question is compared with "
        ">, >=, < or <= and a number, not (${age} = x)",
        "forms.xlsx: row 10, column relevant: question 'more': cannot read relevant: "
        "expected a comparison such as ${name} = 'yes' at the end",
        "forms.xlsx: row 11, column type: question 'q2': the choices sheet has no list 'nolist'",
        "forms.xlsx: row 12, column appearance: question 'Bad Name': appearance 'numbers' is not supported",
        "forms.xlsx: row 12, column name: question 'Bad Name': name must be 1-24 characters of a-z, 0-9 or '_'",
        "forms.xlsx: row 13, column required: question 'extra': required '${a} = 1' is not supported: "
        "write yes, or leave it empty",
        "forms.xlsx: row 14, column relevant: question 'later': relevant compares 'place' with unknown choice 'mars'",
        "forms.xlsx: row 15, column type: question 'code': barcode is not supported: use text",
        "forms.xlsx: row 3, column choices!label::English (en): question 'place': language 'en': "
        "choice 'work' is missing a translation",
    ]


@pytest.mark.parametrize(
    ("relevant", "message"),
    [
        ("${kind} = 'a' or", "cannot read relevant: expected a comparison such as ${name} = 'yes' at the end"),
        ("(${kind} = 'a'", "cannot read relevant: expected ')' at the end"),
        ("${kind} = 'a')", "cannot read relevant: unexpected ')'"),
        ("${kind} = 'a", "cannot read relevant: a quote is not closed"),
        ("count-selected(${tags}) > 1", "cannot read relevant: the function count-selected() is not supported"),
        ("${kind} = ${size}", "cannot read relevant: compare a question, written ${name}, with a value"),
        ("${size} = 3", "relevant: a number question is compared with >, >=, < or <= and a number, not (${size} = 3)"),
        ("${kind} < 'b'", "relevant: < only works on numbers, and 'kind' is not a number question"),
        ("${tags} = 'x'", "relevant: 'tags' is a select_multiple: test it with selected(${tags}, 'x')"),
        (
            "${day} != ''",
            "relevant: whether the date question 'day' was answered cannot be tested; "
            "only text and select questions can be compared with ''",
        ),
        ("${day} = '2024-01-01'", "relevant: the date question 'day' cannot be compared with a value"),
        ("selected(${size}, '1')", "relevant: selected() only works on select questions, and 'size' is not one"),
        ("${kind} = 'z'", "relevant compares 'kind' with unknown choice 'z'"),
        ("${nothing} = 'a'", "relevant refers to an unknown question 'nothing'"),
        ("${last} = 'a'", "relevant refers to a later question 'last'"),
    ],
)
def test_a_relevant_the_bot_cannot_test_is_a_problem(relevant, message):
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", "label", "relevant"),
                {"type": "select_one kinds", "name": "kind", "label": "Kind?"},
                {"type": "select_multiple kinds", "name": "tags", "label": "Tags?"},
                {"type": "integer", "name": "size", "label": "Size?"},
                {"type": "date", "name": "day", "label": "Day?"},
                {"type": "text", "name": "test", "label": "Test", "relevant": relevant},
                {"type": "select_one kinds", "name": "last", "label": "Last?"},
            ),
            "choices": [("list_name", "name", "label"), ("kinds", "a", "A"), ("kinds", "b", "B")],
            "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "English (en)")],
        }
    )
    assert problems(data) == [f"forms.xlsx: row 6, column relevant: question 'test': {message}"]


def test_relevant_that_the_model_can_say_in_its_own_way():
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", "label", "relevant"),
                {"type": "select_one kinds", "name": "kind", "label": "Kind?"},
                {"type": "select_multiple kinds", "name": "tags", "label": "Tags?"},
                {"type": "text", "name": "words", "label": "Words?"},
                {"type": "note", "name": "n1", "label": "1", "relevant": "'a' = ${kind} or ${kind} = \"b\""},
                {"type": "note", "name": "n2", "label": "2", "relevant": "${kind} != ''"},
                {"type": "note", "name": "n3", "label": "3", "relevant": "${tags} = ''"},
                {"type": "note", "name": "n4", "label": "4", "relevant": "selected(${kind}, 'a') and ${words} = ''"},
            ),
            "choices": [("list_name", "name", "label"), ("kinds", "a", "A"), ("kinds", "b", "B")],
            "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "en")],
        }
    )
    flow = read_xlsform(data, "forms.xlsx")
    assert [question.when for question in flow.questions[3:]] == [
        Compare("kind", "equals", ("a", "b")),
        Compare("kind", "in", ("a", "b")),
        Not(Compare("tags", "includes", ("a", "b"))),
        AllOf((Compare("kind", "equals", ("a",)), Not(Compare("words", "not_equals", ("",))))),
    ]


def test_constraints_and_parameters_the_model_cannot_hold():
    header = ("type", "name", "label", "constraint", "parameters")
    data = xlsx(
        {
            "survey": survey(
                header,
                {"type": "integer", "name": "a", "label": "A", "constraint": ". > 0 and . < 11"},
                {"type": "decimal", "name": "b", "label": "B", "constraint": ". > 0"},
                {"type": "integer", "name": "c", "label": "C", "constraint": ". >= 1 and . >= 2"},
                {"type": "text", "name": "d", "label": "D", "constraint": "regex(., '^[0-9]+$')"},
                {"type": "text", "name": "e", "label": "E", "constraint": "string-length(.) > 3"},
                {"type": "date", "name": "f", "label": "F", "constraint": ". <= today()"},
                {"type": "text", "name": "g", "label": "G", "parameters": "max_files=3"},
                {"type": "image", "name": "h", "label": "H", "parameters": "max-pixels=1024 max_files=many"},
                {"type": "text", "name": "i", "label": "I", "constraint": "string-length(.) < 101"},
                {"type": "image", "name": "j", "label": "J", "parameters": "max_files=99"},
            ),
            "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "en")],
        }
    )
    assert problems(data) == [
        "forms.xlsx: row 3, column constraint: question 'b': constraint is not supported: "
        "write bounds such as . >= 1 and . <= 100",
        "forms.xlsx: row 4, column constraint: question 'c': constraint is not supported: "
        "write bounds such as . >= 1 and . <= 100",
        "forms.xlsx: row 5, column constraint: question 'd': constraint is not supported: "
        "write a length limit such as string-length(.) <= 500",
        "forms.xlsx: row 6, column constraint: question 'e': constraint is not supported: "
        "write a length limit such as string-length(.) <= 500",
        "forms.xlsx: row 7, column constraint: question 'f': constraint is not supported on date questions",
        "forms.xlsx: row 8, column parameters: question 'g': parameter 'max_files' only applies to "
        "image, file, audio and video questions",
        "forms.xlsx: row 9, column parameters: question 'h': parameter 'max_files' must be a whole number",
        "forms.xlsx: row 11, column parameters: question 'j': max_files must be between 1 and 50",
    ]
    fixed = xlsx(
        {
            "survey": survey(
                header,
                {"type": "integer", "name": "a", "label": "A", "constraint": ". > 0 and . < 11"},
                {"type": "text", "name": "i", "label": "I", "constraint": "string-length(.) < 101"},
            ),
            "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "en")],
        }
    )
    a, i = read_xlsform(fixed, "forms.xlsx").questions
    assert (a.min, a.max, i.max_length) == (1, 10, 100)


def test_sheet_level_problems():
    assert problems(b"not a spreadsheet")[0].startswith("forms.xlsx: cannot read the file as .xlsx")
    assert problems(xlsx({"questions": [("type",)]})) == ["forms.xlsx: there is no survey sheet"]
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", "label", "label::Klingon", "hint::Kazakh (kk)"),
                {"type": "begin group", "name": "g"},
                {"type": "text", "name": "q", "label": "Q?"},
                {"type": "end repeat"},
                {"name": "orphan", "label": "no type"},
            ),
            "choices": [("list_name", "name", "label"), (None, "x", "X")],
        }
    )
    assert problems(data) == [
        "forms.xlsx: there is no settings sheet: it needs form_id, version and form_title",
        "forms.xlsx: row 1, column label::Klingon: cannot tell the language of 'label::Klingon': "
        "write it as 'label::English (en)'",
        "forms.xlsx: row 1, column label: the label column does not say its language: name it like "
        "label::English (en), or set default_language on the settings sheet",
        "forms.xlsx: row 2, column type: question 'g': begin group has no matching end",
        "forms.xlsx: row 4, column type: end repeat without a matching begin",
        "forms.xlsx: row 5, column type: question 'orphan': this row has no type",
        "forms.xlsx: row 2, column choices!list_name: this choice has no list_name",
    ]


def test_languages_must_match_and_have_a_bot_catalogue():
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", EN, "label::German (de)", "hint::Kazakh (kk)"),
                {"type": "text", "name": "q", EN: "Q?", "label::German (de)": "F?", "hint::Kazakh (kk)": "К"},
            ),
            "settings": [
                ("form_id", "form_title::English (en)", "form_title::German (de)"),
                ("test", "Test", "Test"),
            ],
        }
    )
    found = problems(data)
    assert found[0] == (
        "forms.xlsx: row 1, column hint::Kazakh (kk): language 'kk': "
        "there is no label column in this language on the survey sheet"
    )
    assert found[1].startswith("forms.xlsx: row 1, column label::German (de): language 'de' has no bot catalogue")
    assert len(found) == 2


def test_duplicate_names_point_at_the_second_row():
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", "label"),
                {"type": "select_one l", "name": "q", "label": "Q?"},
                {"type": "text", "name": "q", "label": "Again?"},
            ),
            "choices": [("list_name", "name", "label"), ("l", "a", "A"), ("l", "a", "B")],
            "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "en")],
        }
    )
    assert problems(data) == [
        "forms.xlsx: row 3, column name: question 'q': this name is used by two questions",
        "forms.xlsx: row 3, column choices!name: question 'q': choice name 'a' is used twice in the list",
    ]


# ---- the file itself ----------------------------------------------------------------------------------------


def test_the_export_has_no_author_no_software_and_fixed_dates():
    [flow] = load_default_flows()
    with zipfile.ZipFile(io.BytesIO(write_xlsform(flow))) as archive:
        core = archive.read("docProps/core.xml").decode()
        app = archive.read("docProps/app.xml").decode()
        dates = {info.date_time for info in archive.infolist()}
    assert "creator" not in core and "lastModifiedBy" not in core
    assert core.count("2000-01-01T00:00:00Z") == 2
    assert "penpyxl" not in app and "Application" not in app
    assert dates == {(2000, 1, 1, 0, 0, 0)}


def test_texts_that_look_like_formulas_stay_texts():
    texts = {"en": '=HYPERLINK("http://example.org")'}
    flow = parse_flow(
        {
            "id": "f",
            "languages": ["en"],
            "title": {"en": "T"},
            "questions": [{"id": "q", "type": "text", "text": texts}],
        },
        "f.yaml",
    )
    data = write_xlsform(flow)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
    assert read_xlsform(data, "f.xlsx") == flow


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (51 * 1024 * 1024))
    assert problems(buffer.getvalue()) == ["forms.xlsx: the file unpacks to more than 50 MB"]


def test_an_uploaded_form_shows_rows_and_columns_to_the_admin():
    from bot.flow_admin import read_flow_file

    data = xlsx({**HAND_WRITTEN, "survey": [*HAND_WRITTEN["survey"], ("geotrace", "route", "Путь", "Route")]})
    with pytest.raises(FlowError) as caught:
        read_flow_file("forms.xlsx", data)
    assert [str(problem) for problem in caught.value.problems] == [
        "forms.xlsx: row 15, column type: question 'route': geotrace is not supported: "
        "the bot never asks for a location"
    ]
    assert read_flow_file("forms.xlsx", xlsx(HAND_WRITTEN)).flow == read_xlsform(xlsx(HAND_WRITTEN), "forms.xlsx")


def test_a_group_only_lends_its_relevant():
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", "label", "required", "relevant", "appearance"),
                {"type": "select_one yn", "name": "ok", "label": "OK?"},
                {"type": "begin group", "name": "g", "label": "Section", "required": "yes", "appearance": "table-list"},
                {"type": "text", "name": "q", "label": "Q?", "relevant": "${ok} = 'yes'"},
                {"type": "end group", "name": "g"},
                {
                    "type": "begin group",
                    "name": "h",
                    "label": "Section",
                    "required": "false",
                    "relevant": "${ok} = 'no",
                },
                {"type": "text", "name": "r", "label": "R?"},
                {"type": "end group"},
            ),
            "choices": [("list_name", "name", "label"), ("yn", "yes", "Yes"), ("yn", "no", "No")],
            "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "en")],
        }
    )
    assert problems(data) == [
        "forms.xlsx: row 3, column required: question 'g': required is not supported on a group: "
        "set it on the questions inside",
        "forms.xlsx: row 3, column appearance: question 'g': appearance 'table-list' is not supported",
        "forms.xlsx: row 6, column relevant: question 'h': cannot read relevant: a quote is not closed",
    ]


def test_numeric_comparisons_become_number_conditions_and_round_trip():
    data = xlsx(
        {
            "survey": survey(
                ("type", "name", RU, EN, "relevant"),
                {"type": "integer", "name": "age", RU: "Возраст?", EN: "Age?"},
                {
                    "type": "text",
                    "name": "school",
                    RU: "Школа?",
                    EN: "School?",
                    "relevant": "${age} < 18 and ${age} >= 6",
                },
                {"type": "text", "name": "adult", RU: "Работа?", EN: "Work?", "relevant": "not(${age} <= 17.5)"},
            ),
            "settings": SETTINGS,
        }
    )
    flow = read_xlsform(data, "forms.xlsx")
    assert flow.question("school").when == AllOf((Compare("age", "lt", ("18",)), Compare("age", "ge", ("6",))))
    assert flow.question("school").applies({"age": 12}) and not flow.question("school").applies({"age": 18})
    assert flow.question("adult").applies({"age": 30}) and not flow.question("adult").applies({"age": 17})
    assert read_xlsform(write_xlsform(flow), "again.xlsx") == flow


QUICK_FORM = [
    {"type": "select_one yn", "name": "ok", "label": "OK?"},
    {"type": "text", "name": "story", "label": "What happened?", "required": "yes", "quick": "yes"},
    {"type": "select_one yn", "name": "now", "label": "Still going on?", "quick": "TRUE()"},
    {"type": "image", "name": "photos", "label": "Photos", "quick": "no"},
]
QUICK_SHEETS = {
    "choices": [("list_name", "name", "label"), ("yn", "yes", "Yes"), ("yn", "no", "No")],
    "settings": [("form_id", "form_title", "default_language"), ("test", "Test", "en")],
}


def test_the_quick_column_marks_the_quick_report_and_round_trips():
    data = xlsx({"survey": survey(("type", "name", "label", "required", "quick"), *QUICK_FORM), **QUICK_SHEETS})
    flow = read_xlsform(data, "forms.xlsx")
    assert [question.id for question in flow.quick_questions] == ["story", "now"]
    assert read_xlsform(write_xlsform(flow), "again.xlsx") == flow
    without = xlsx({"survey": survey(("type", "name", "label", "required"), *QUICK_FORM), **QUICK_SHEETS})
    assert read_xlsform(without, "forms.xlsx").quick_questions == ()  # a form without the column: no quick report


def test_quick_cells_the_bot_cannot_use_are_problems_with_row_and_column():
    rows = [
        {"type": "select_one yn", "name": "ok", "label": "OK?"},
        {"type": "text", "name": "story", "label": "Story", "quick": "maybe"},
        {"type": "note", "name": "careful", "label": "Be careful", "quick": "yes"},
        {"type": "begin group", "name": "g", "label": "Section", "quick": "yes"},
        {"type": "select_one yn", "name": "now", "label": "Now?", "quick": "yes", "relevant": "${ok} = 'yes'"},
        {"type": "end group"},
    ]
    data = xlsx({"survey": survey(("type", "name", "label", "quick", "relevant"), *rows), **QUICK_SHEETS})
    assert problems(data) == [
        "forms.xlsx: the quick report has no text question: mark a text question quick, for the reporter's own words",
        "forms.xlsx: row 3, column quick: question 'story': quick 'maybe' is not supported: "
        "write yes, or leave it empty",
        "forms.xlsx: row 4, column quick: question 'careful': info questions cannot be quick: the quick report shows "
        "only questions; put what it must say into a quick question's hint",
        "forms.xlsx: row 5, column quick: question 'g': quick is not supported on a group: "
        "set it on the questions inside",
        "forms.xlsx: row 6, column relevant: question 'now': relevant refers to 'ok', which is not quick: the quick "
        "report never asks it (mark 'ok' quick too, or remove the condition)",
    ]
