"""XLSForm (.xlsx, as made in KoBoToolbox, ODK or Excel) to and from the flow model. Pure: no Telegram, no SQL.

Reading builds the same YAML-shaped dict that flow files give (`xlsform_to_raw`), so `parse_flow` applies exactly
the same validation; its problems are then placed on the spreadsheet row and column they come from. Whatever
XLSForm can say that the bot cannot do is a problem naming row and column: nothing is dropped in silence, apart
from the purely cosmetic columns listed in docs/flows.md ("XLSForm").

Writing gives a workbook without author or dates (like the staff export), built entirely in memory.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..xlsx import workbook_bytes
from .loader import FlowError, Problem, parse_flow
from .model import NO, NUMERIC_OPERATORS, YES, AllOf, AnyOf, Compare, Condition, Flow, Not, Question, QuestionType

MAX_XLSX_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
"""An .xlsx is a zip archive: a small file could unpack into gigabytes of XML."""

XLS_NUMERIC = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}

LANGUAGE_NAMES = {
    "ru": "Russian",
    "uz": "Uzbek",
    "kk": "Kazakh",
    "en": "English",
    "tk": "Turkmen",
    "uz_Cyrl": "Uzbek (Cyrillic)",
}
KNOWN_NAMES = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
YES_NO_WORDS = {
    "ru": ("Да", "Нет"),
    "uz": ("Ha", "Yo‘q"),
    "kk": ("Иә", "Жоқ"),
    "en": ("Yes", "No"),
    "tk": ("Hawa", "Ýok"),
    "uz_Cyrl": ("Ҳа", "Йўқ"),
}
"""The bot words its own yes/no buttons; these only fill the yes_no list of an exported form."""

TRUE_WORDS = {"yes", "true", "true()", "1"}
FALSE_WORDS = {"", "no", "false", "false()", "0"}

# ---- what the reader understands -----------------------------------------------------------------------------

PLAIN_TYPES = {
    "text": QuestionType.TEXT,
    "integer": QuestionType.NUMBER,
    "int": QuestionType.NUMBER,
    "decimal": QuestionType.NUMBER,
    "date": QuestionType.DATE,
    "note": QuestionType.INFO,
    "image": QuestionType.ATTACHMENTS,
    "photo": QuestionType.ATTACHMENTS,
    "file": QuestionType.ATTACHMENTS,
    "audio": QuestionType.ATTACHMENTS,
    "video": QuestionType.ATTACHMENTS,
    "region": QuestionType.REGION,
}
LOCATION = "is not supported: the bot never asks for a location"
METADATA = "is not supported: the bot collects nothing about the reporter or their device"
UNSUPPORTED_TYPES = {
    "geopoint": LOCATION,
    "geotrace": LOCATION,
    "geoshape": LOCATION,
    "start-geopoint": LOCATION,
    "background-geopoint": LOCATION,
    "calculate": "is not supported: the bot has no calculated fields",
    "hidden": "is not supported: the bot has no hidden fields",
    "barcode": "is not supported: use text",
    "range": "is not supported: use integer with a constraint such as . >= 1 and . <= 10",
    "rank": "is not supported: use select_multiple",
    "acknowledge": "is not supported: use a note, or select_one with a yes/no list",
    "time": "is not supported: use date",
    "datetime": "is not supported: use date",
    "dateTime": "is not supported: use date",
    "trigger": "is not supported",
    "background-audio": "is not supported: the bot never records anything without asking",
    "xml-external": "is not supported: choices must be on the choices sheet",
    "csv-external": "is not supported: choices must be on the choices sheet",
    "select_one_from_file": "is not supported: choices must be on the choices sheet",
    "select_multiple_from_file": "is not supported: choices must be on the choices sheet",
    "select_one_external": "is not supported: choices must be on the choices sheet",
    **{
        name: METADATA
        for name in (
            "start",
            "end",
            "today",
            "deviceid",
            "subscriberid",
            "simserial",
            "phonenumber",
            "username",
            "email",
            "audit",
        )
    },
}
COSMETIC_APPEARANCES = {
    "multiline",
    "minimal",
    "field-list",
    "horizontal",
    "horizontal-compact",
    "compact",
    "columns",
    "columns-pack",
    "likert",
    "quick",
    "no-calendar",
}
"""Appearances that change only how a form looks; the bot has its own look and ignores them."""
COSMETIC_APPEARANCE = re.compile(r"^(w\d+|columns-\d+)$")

TRANSLATED = {
    "survey": {"label", "hint", "constraint_message", "required_message", "tipbot_label"},
    "choices": {"label"},
    "settings": {"form_title"},
}
HANDLED = {
    "survey": {
        "type",
        "name",
        "required",
        "relevant",
        "constraint",
        "appearance",
        "parameters",
        "urgent_if",
        "quick",
    },
    "choices": {"list_name", "name"},
    "settings": {"form_id", "version", "default_language"},
}
IGNORED = {
    "survey": {"guidance_hint", "image", "big-image", "audio", "video", "media", "hxl"},
    "choices": {"image", "big-image", "audio", "video", "media", "hxl"},
    "settings": {"style", "instance_name", "name", "namespaces", "clean_text_values", "allow_choice_duplicates"},
}
"""Columns that change nothing the bot asks or checks (media are not shown by the bot). Columns whose heading
starts with '$' (KoBoToolbox's bookkeeping) are ignored too."""
UNSUPPORTED_COLUMNS = {
    "survey": {
        "calculation": "calculation is not supported: the bot has no calculated fields",
        "default": "default is not supported: the bot never fills in answers in advance",
        "read_only": "read_only is not supported",
        "choice_filter": "choice_filter is not supported: every choice of the list is offered",
        "repeat_count": "repeat_count is not supported: every question is asked once",
        "trigger": "trigger is not supported",
    },
    "choices": {},
    "settings": {
        "public_key": "public_key is not supported: the bot keeps reports in its own storage",
        "submission_url": "submission_url is not supported: the bot keeps reports in its own storage",
    },
}
COLUMN_ALIASES = {"list name": "list_name"}
APPLIES_TO = {"max_files": "image, file, audio and video", "countries": "region", "max_length": "text"}
SHEET_RANK = {"settings": 0, "survey": 1, "choices": 2}

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")
NAMED_LANGUAGE = re.compile(r"^(?P<name>.*?)\s*\((?P<code>[^()]*)\)\s*$")


# ---- reading ----------------------------------------------------------------------------------------------------


def read_xlsform(data: bytes, source: str) -> Flow:
    """The flow in an XLSForm, or FlowError listing every problem with its row and column."""
    return parse_flow(xlsform_to_raw(data, source), source)


def xlsform_to_raw(data: bytes, source: str) -> dict[str, Any]:
    """The YAML-shaped dict of an XLSForm, as a flow file would give it.

    The dict is validated before it is returned: FlowError lists what the sheets cannot express together with
    every problem `parse_flow` finds, each placed on its sheet, row and column. So `parse_flow` of the result
    succeeds, and a caller that only wants the dict (to store it) still shows admins where each problem is."""
    reader = _Reader(source)
    raw = reader.read(data)
    if raw is None or not reader.languages or (reader.problems and not raw["questions"]):
        raise FlowError(reader.sorted_problems())  # checking the rest would only repeat the same problem
    try:
        parse_flow(raw, source)
    except FlowError as error:
        reader.add_flow_problems(error.problems)
    if reader.problems:
        raise FlowError(reader.sorted_problems())
    return raw


@dataclass
class _Columns:
    """The headings of one sheet, sorted by what the reader does with them."""

    sheet: str
    plain: dict[str, int] = field(default_factory=dict)
    """Heading (lower case, aliases resolved) to column, for untranslated columns and plain `label` etc."""
    translated: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    """Heading to language code to (column, the heading as written)."""
    headers: dict[int, str] = field(default_factory=dict)
    unsupported: dict[int, str] = field(default_factory=dict)
    unknown: list[int] = field(default_factory=list)

    def where(self, column: int | str) -> str:
        header = self.headers.get(column, "") if isinstance(column, int) else column
        header = header or (get_column_letter(column) if isinstance(column, int) else "")
        return header if self.sheet == "survey" else f"{self.sheet}!{header}"


class _ExpressionError(Exception):
    pass


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.problem_sheets: list[str] = []
        self.columns: dict[str, _Columns] = {}
        self.rows: dict[str, dict[int, dict[int, Any]]] = {}
        self.languages: tuple[str, ...] = ()
        self.default: str | None = None
        self.suffixes: dict[str, str] = {}
        """Language code to the suffix of its label column, to name columns that are missing."""
        self.lists: dict[str, list[tuple[int, str, dict[str, str]]]] = {}
        self.kinds: dict[str, QuestionType] = {}
        self.answer_ids: dict[str, list[str]] = {}
        self.question_rows: dict[str, list[int]] = {}
        self.position_rows: list[int] = []
        self.option_rows: dict[tuple[str, str], list[int]] = {}
        self.rejected_rows: set[int] = set()
        self.rejected_names: set[str] = set()
        self.max_length_column: dict[str, str] = {}
        self.missing_choice_labels: set[tuple[int, str]] = set()

    # -- problems --

    def problem(
        self,
        message: str,
        sheet: str = "survey",
        row: int | None = None,
        column: int | str | None = None,
        question: str | None = None,
        language: str | None = None,
    ) -> None:
        where = None
        if column is not None:
            columns = self.columns.get(sheet) or _Columns(sheet)
            where = columns.where(column)
        self.problems.append(Problem(self.source, message, question or None, language, row, where))
        self.problem_sheets.append(sheet)

    def sorted_problems(self) -> list[Problem]:
        """File-level problems first, then the settings, survey and choices sheets, top to bottom."""
        order = sorted(
            range(len(self.problems)),
            key=lambda index: (
                (-1, 0)
                if self.problems[index].row is None
                else (SHEET_RANK[self.problem_sheets[index]], self.problems[index].row)
            ),
        )
        return [self.problems[index] for index in order]

    # -- the workbook --

    def read(self, data: bytes) -> dict[str, Any] | None:
        if len(data) > MAX_XLSX_BYTES:
            self.problem(f"the file is larger than {MAX_XLSX_BYTES // (1024 * 1024)} MB")
            return None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                self.problem(f"the file unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB")
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about Excel features it does not read
                workbook = load_workbook(io.BytesIO(data), data_only=True)
        except Exception as error:  # zipfile, XML and openpyxl errors alike: the file is not a usable .xlsx
            self.problem(f"cannot read the file as .xlsx (an .xls file must be saved as .xlsx first): {error}")
            return None
        sheets = {sheet.title.strip().lower(): sheet for sheet in workbook.worksheets}
        if "survey" not in sheets:
            self.problem("there is no survey sheet")
            return None
        for name in ("survey", "choices", "settings"):
            if name in sheets:
                self.rows[name] = _sheet_rows(sheets[name])
                self.read_headers(name, self.rows[name].pop(1, {}))
        if "settings" not in self.rows:
            self.problem("there is no settings sheet: it needs form_id, version and form_title")
        self.find_languages()
        self.check_columns()
        self.read_choices()
        settings = self.read_settings()
        questions = self.read_survey()
        return {**settings, "languages": list(self.languages), "questions": questions}

    def read_headers(self, sheet: str, cells: dict[int, Any]) -> None:
        columns = self.columns[sheet] = _Columns(sheet)
        for column, value in sorted(cells.items()):
            header = _text(value)
            columns.headers[column] = header
            if not header or header.startswith("$"):
                continue
            base, separator, suffix = header.partition("::")
            base = base.strip().lower()
            base = COLUMN_ALIASES.get(base, base)
            if base in IGNORED[sheet]:
                continue
            if base in TRANSLATED[sheet] and separator:
                code = _language_code(suffix)
                if code is None:
                    self.problem(
                        f"cannot tell the language of '{header}': write it as '{base}::English (en)'",
                        sheet,
                        1,
                        column,
                    )
                elif code in columns.translated.setdefault(base, {}):
                    self.problem(f"a second {base} column in '{code}'", sheet, 1, column, language=code)
                else:
                    columns.translated[base][code] = (column, header)
            elif separator:
                columns.unknown.append(column)
            elif base in TRANSLATED[sheet] or base in HANDLED[sheet]:
                if base in columns.plain:
                    self.problem(f"a second {base} column", sheet, 1, column)
                else:
                    columns.plain[base] = column
            elif base in UNSUPPORTED_COLUMNS[sheet]:
                columns.unsupported[column] = UNSUPPORTED_COLUMNS[sheet][base]
            else:
                columns.unknown.append(column)

    def find_languages(self) -> None:
        survey = self.columns["survey"]
        settings_row = self.rows.get("settings", {}).get(2, {})
        settings = self.columns.get("settings")
        found = list(survey.translated.get("label", {}))
        for code, (_, header) in survey.translated.get("label", {}).items():
            self.suffixes[code] = header.partition("::")[2].strip()
        named = {
            _language_name(header.partition("::")[2]).lower(): code
            for columns in self.columns.values()
            for by_language in columns.translated.values()
            for code, (_, header) in by_language.items()
        }
        default_text = ""
        if settings and "default_language" in settings.plain:
            default_text = _text(settings_row.get(settings.plain["default_language"]))
        if default_text:
            self.default = _language_code(default_text) or named.get(default_text.lower())
            if self.default is None:
                self.problem(
                    f"default_language '{default_text}' is not a language code, nor the language of a label column",
                    "settings",
                    2,
                    "default_language",
                )
            elif self.default not in found and "label" not in survey.plain:
                self.problem(
                    f"default_language '{default_text}' has no label column on the survey sheet",
                    "settings",
                    2,
                    "default_language",
                    language=self.default,
                )
                self.default = None
        if "label" in survey.plain and self.default is None and not default_text:
            self.problem(
                "the label column does not say its language: name it like label::English (en), "
                "or set default_language on the settings sheet",
                "survey",
                1,
                "label",
            )
        if self.default is None and "label" not in survey.plain and found:
            self.default = found[0]
        languages = [self.default] if self.default else []
        languages += [code for code in found if code not in languages]
        if not languages and "label" not in survey.plain:
            self.problem("the survey sheet has no label column", "survey", 1)
        self.languages = tuple(languages)

    def check_columns(self) -> None:
        for sheet, columns in self.columns.items():
            rows = self.rows[sheet]
            for column in columns.unknown:
                if any(_text(cells.get(column)) for cells in rows.values()):
                    self.problem(f"column '{columns.headers[column]}' is not supported", sheet, 1, column)
            headerless = {column for cells in rows.values() for column in cells if column not in columns.headers}
            headerless |= {column for column, header in columns.headers.items() if not header}
            for column in sorted(headerless):
                if any(_text(cells.get(column)) for cells in rows.values()):
                    self.problem("this column has values but no heading", sheet, 1, column)
            for by_language in columns.translated.values():
                for code, (column, _) in by_language.items():
                    if code not in self.languages and self.languages:
                        self.problem(
                            "there is no label column in this language on the survey sheet",
                            sheet,
                            1,
                            column,
                            language=code,
                        )

    def texts(self, sheet: str, base: str, cells: dict[int, Any], row: int, question: str = "") -> dict[str, str]:
        """The texts of one translated column in the flow's languages; empty cells are left out."""
        columns = self.columns[sheet]
        texts: dict[str, str] = {}
        for code, (column, _) in columns.translated.get(base, {}).items():
            value = _text(cells.get(column))
            if value and code in self.languages:
                texts[code] = value
        if base in columns.plain and self.default:
            value = _text(cells.get(columns.plain[base]))
            if value and texts.get(self.default, value) != value:
                self.problem(
                    f"{base} differs from the {base} column in '{self.default}'",
                    sheet,
                    row,
                    columns.plain[base],
                    question,
                )
            elif value:
                texts[self.default] = value
        return texts

    def cell(self, sheet: str, cells: dict[int, Any], base: str) -> Any:
        column = self.columns[sheet].plain.get(base)
        return None if column is None else cells.get(column)

    # -- settings and choices --

    def read_settings(self) -> dict[str, Any]:
        if "settings" not in self.rows:
            return {"title": {}}
        rows = self.rows["settings"]
        cells = rows.get(2, {})
        for row in sorted(rows):
            if row > 2 and any(_text(value) for value in rows[row].values()):
                self.problem("the settings sheet has one row of values, row 2", "settings", row)
        settings: dict[str, Any] = {
            "id": _text(self.cell("settings", cells, "form_id")),
            "title": self.texts("settings", "form_title", cells, 2),
        }
        version = self.cell("settings", cells, "version")
        if _text(version):
            number = _whole_number(version)
            if number is None:
                self.problem(f"version '{_text(version)}' must be a whole number, such as 3", "settings", 2, "version")
            else:
                settings["version"] = number
        self.unsupported_cells("settings", 2, cells)
        return settings

    def read_choices(self) -> None:
        if "choices" not in self.rows:
            return
        for row, cells in sorted(self.rows["choices"].items()):
            list_name = _text(self.cell("choices", cells, "list_name"))
            name = _text(self.cell("choices", cells, "name"))
            if not any(_text(value) for value in cells.values()):
                continue
            if not list_name:
                self.problem("this choice has no list_name", "choices", row, "list_name")
                continue
            if not name:
                self.problem(f"this choice of list '{list_name}' has no name", "choices", row, "name")
                continue
            self.lists.setdefault(list_name, []).append((row, name, self.texts("choices", "label", cells, row)))
            self.unsupported_cells("choices", row, cells)

    def unsupported_cells(self, sheet: str, row: int, cells: dict[int, Any], question: str = "") -> None:
        for column, message in self.columns[sheet].unsupported.items():
            value = _text(cells.get(column))
            if value and not (message.startswith("read_only") and value.lower() in FALSE_WORDS):
                self.problem(message, sheet, row, column, question)

    # -- the survey --

    def read_survey(self) -> list[dict[str, Any]]:
        rows = sorted(self.rows["survey"].items())
        survey = self.columns["survey"]
        if "type" not in survey.plain or "name" not in survey.plain:
            self.problem("the survey sheet needs a type and a name column", "survey", 1)
            return []
        for _, cells in rows:  # every question's kind first: relevant may name any of them
            kind, list_name, or_other = _parse_type(_text(self.cell("survey", cells, "type")))
            qtype = None if or_other else self.row_type(kind, list_name)
            name = _text(self.cell("survey", cells, "name"))
            if qtype is not None and name not in self.kinds:
                self.kinds[name] = qtype
                if qtype is QuestionType.YESNO:
                    self.answer_ids[name] = [YES, NO]
                elif qtype in (QuestionType.CHOICE, QuestionType.MULTI):
                    self.answer_ids[name] = [option for _, option, _ in self.lists[list_name or ""]]

        groups: list[tuple[str, int, dict[str, Any] | None, str]] = []
        questions: list[dict[str, Any]] = []
        for row, cells in rows:
            if not any(_text(value) for value in cells.values()):
                continue
            type_text = _text(self.cell("survey", cells, "type"))
            name = _text(self.cell("survey", cells, "name"))
            kind, list_name, or_other = _parse_type(type_text)
            if not type_text:
                self.problem("this row has no type", "survey", row, "type", name)
                continue
            if kind in ("begin_group", "begin_repeat"):
                if kind == "begin_repeat":
                    self.problem("repeats are not supported: every question is asked once", "survey", row, "type", name)
                groups.append((kind, row, self.relevant(cells, row, name), name))
                self.group_cells(row, cells, name)
                continue
            if kind in ("end_group", "end_repeat"):
                if not groups or groups[-1][0] != kind.replace("end", "begin"):
                    self.problem(f"{type_text} without a matching begin", "survey", row, "type", name)
                else:
                    groups.pop()
                continue
            question = self.question(row, cells, type_text, kind, list_name, or_other, name, groups)
            self.question_rows.setdefault(name, []).append(row)
            self.position_rows.append(row)
            questions.append(question)
        for kind, row, _, name in groups:
            self.problem(f"{kind.replace('_', ' ')} has no matching end", "survey", row, "type", name)
        return questions

    def group_cells(self, row: int, cells: dict[int, Any], name: str) -> None:
        """A group only gives its relevant to the questions inside; its label and hint are not shown."""
        for base in ("required", "constraint", "parameters", "urgent_if", "quick"):
            value = _text(self.cell("survey", cells, base))
            if value and not (base in ("required", "quick") and value.lower() in FALSE_WORDS):
                self.problem(
                    f"{base} is not supported on a group: set it on the questions inside", "survey", row, base, name
                )
        self.appearance(cells, row, name)
        self.unsupported_cells("survey", row, cells, name)

    def appearance(self, cells: dict[int, Any], row: int, name: str) -> None:
        for word in _text(self.cell("survey", cells, "appearance")).split():
            if word not in COSMETIC_APPEARANCES and not COSMETIC_APPEARANCE.match(word):
                self.problem(f"appearance '{word}' is not supported", "survey", row, "appearance", name)

    def row_type(self, kind: str, list_name: str | None) -> QuestionType | None:
        if kind in PLAIN_TYPES:
            return PLAIN_TYPES[kind]
        if kind not in ("select_one", "select_multiple") or list_name not in self.lists:
            return None
        if kind == "select_one" and sorted(option for _, option, _ in self.lists[list_name]) == [NO, YES]:
            return QuestionType.YESNO
        return QuestionType.CHOICE if kind == "select_one" else QuestionType.MULTI

    def question(
        self,
        row: int,
        cells: dict[int, Any],
        type_text: str,
        kind: str,
        list_name: str | None,
        or_other: bool,
        name: str,
        groups: list[tuple[str, int, dict[str, Any] | None, str]],
    ) -> dict[str, Any]:
        texts = self.texts("survey", "label", cells, row, name)
        raw: dict[str, Any] = {"id": name, "text": texts}
        options: list[dict[str, Any]] | None = None
        rejection = None
        if kind in UNSUPPORTED_TYPES:
            rejection = f"{kind} {UNSUPPORTED_TYPES[kind]}"
        elif or_other:
            rejection = "or_other is not supported: add an 'other' choice and a text question with a relevant"
        elif kind in ("select_one", "select_multiple"):
            if not list_name:
                rejection = f"{kind} needs a list name, as in '{kind} colours'"
            elif list_name not in self.lists:
                rejection = f"the choices sheet has no list '{list_name}'"
            elif self.row_type(kind, list_name) is not QuestionType.YESNO:
                options = []
                for choice_row, option, labels in self.lists[list_name]:
                    options.append({"id": option, "text": self.choice_texts(choice_row, option, labels, name)})
                    self.option_rows.setdefault((name, option), []).append(choice_row)
        elif kind not in PLAIN_TYPES:
            rejection = f"type '{type_text}' is not an XLSForm type the bot knows"
        if rejection is not None:  # a stand-in keeps references to it from causing more problems
            self.problem(rejection, "survey", row, "type", name)
            self.rejected_rows.add(row)
            self.rejected_names.add(name)
            return {"id": name, "type": QuestionType.TEXT.value, "text": dict.fromkeys(self.languages, "-")}

        qtype = self.row_type(kind, list_name)
        assert qtype is not None
        raw["type"] = qtype.value
        if options is not None:
            raw["options"] = options
        for base, key in (
            ("hint", "hint"),
            ("tipbot_label", "label"),
            ("constraint_message", "constraint_message"),
            ("required_message", "required_message"),
        ):
            found = self.texts("survey", base, cells, row, name)
            if found:
                raw[key] = found
        if qtype is not QuestionType.INFO:
            raw["required"] = self.required(cells, row, name)
        if self.yes_or_empty(cells, row, name, "quick"):
            raw["quick"] = True
        when = self.relevant(cells, row, name)
        parts = [condition for _, _, condition, _ in groups if condition] + ([when] if when else [])
        if len(parts) == 1:
            raw["when"] = parts[0]
        elif parts:
            raw["when"] = {"all": parts}
        raw.update(self.constraint(cells, row, name, kind, qtype))
        raw.update(self.parameters(cells, row, name, kind, qtype, raw.get("max_length")))
        urgent = _text(self.cell("survey", cells, "urgent_if"))
        if urgent:
            raw["urgent_if"] = [value for value in re.split(r"[\s,]+", urgent) if value]
        self.appearance(cells, row, name)
        self.unsupported_cells("survey", row, cells, name)
        return raw

    def choice_texts(self, row: int, option: str, labels: dict[str, str], question: str) -> dict[str, str]:
        """A choice's labels; a missing one is a problem of its row on the choices sheet, reported once for
        a list that several questions use. The stand-in keeps the loader's checks of whole messages going."""
        for language in self.languages:
            if language not in labels and (row, language) not in self.missing_choice_labels:
                self.missing_choice_labels.add((row, language))
                column = self.translated_column("choices", "label", language)
                self.problem(
                    f"choice '{option}' is missing a translation",
                    "choices",
                    row,
                    column.partition("!")[2],
                    question,
                    language,
                )
        return {language: labels.get(language, "-") for language in self.languages}

    def required(self, cells: dict[int, Any], row: int, name: str) -> bool:
        return self.yes_or_empty(cells, row, name, "required")

    def yes_or_empty(self, cells: dict[int, Any], row: int, name: str, base: str) -> bool:
        """A yes/no column (required, quick): yes, true, TRUE(), 1 or a TRUE cell; empty, no, false or 0."""
        value = self.cell("survey", cells, base)
        if isinstance(value, bool):
            return value
        word = _text(value).lower()
        if word in TRUE_WORDS:
            return True
        if word not in FALSE_WORDS:
            self.problem(
                f"{base} '{_text(value)}' is not supported: write yes, or leave it empty",
                "survey",
                row,
                base,
                name,
            )
        return False

    def relevant(self, cells: dict[int, Any], row: int, name: str) -> dict[str, Any] | None:
        text = _text(self.cell("survey", cells, "relevant"))
        if not text:
            return None
        try:
            return self.condition(_RelevantParser(text).parse())
        except _ExpressionError as error:
            self.problem(str(error), "survey", row, "relevant", name)
            return None

    def condition(self, node: tuple) -> dict[str, Any]:
        """A parsed relevant expression as a `when` mapping, with what the bot can test."""
        kind = node[0]
        if kind == "group":
            return self.condition(node[1])
        if kind == "not":
            return {"not": self.condition(node[1])}
        if kind in ("and", "or"):
            merged = self.merged(node)
            if merged is not None:
                return merged
            return {"all" if kind == "and" else "any": [self.condition(part) for part in node[1]]}
        if kind == "selected":
            _, question, value = node
            qtype = self.kinds.get(question)
            if qtype is QuestionType.MULTI or qtype is None:
                return {"question": question, "includes": value}
            if qtype in (QuestionType.CHOICE, QuestionType.YESNO):
                return {"question": question, "equals": value}
            raise _ExpressionError(f"relevant: selected() only works on select questions, and '{question}' is not one")
        _, question, operator, value, is_number = node
        qtype = self.kinds.get(question)
        if value == "" and not is_number and operator in ("=", "!="):
            return self.answered(question, qtype, operator == "!=")
        if operator in XLS_NUMERIC and is_number and qtype in (QuestionType.NUMBER, None):
            number = float(value)
            return {"question": question, XLS_NUMERIC[operator]: int(number) if number.is_integer() else number}
        if qtype is QuestionType.NUMBER or operator not in ("=", "!="):
            raise _ExpressionError(
                f"relevant: a number question is compared with >, >=, < or <= and a number, "
                f"not ({'${' + question + '}'} {operator} {value})"
                if qtype is QuestionType.NUMBER or qtype is None
                else f"relevant: {operator} only works on numbers, and '{question}' is not a number question"
            )
        if qtype is QuestionType.MULTI:
            raise _ExpressionError(
                f"relevant: '{question}' is a select_multiple: test it with selected(${{{question}}}, '{value}')"
            )
        if qtype is QuestionType.INFO:
            raise _ExpressionError(f"relevant: '{question}' is a note and has no answer")
        if qtype in (QuestionType.DATE, QuestionType.REGION, QuestionType.ATTACHMENTS):
            raise _ExpressionError(f"relevant: the {qtype.value} question '{question}' cannot be compared with a value")
        return {"question": question, "equals" if operator == "=" else "not_equals": value}

    def answered(self, question: str, qtype: QuestionType | None, answered: bool) -> dict[str, Any]:
        """`${q} != ''`: the question was answered; for select questions, with any of its choices."""
        if qtype is QuestionType.INFO:
            raise _ExpressionError(f"relevant: '{question}' is a note and has no answer")
        if qtype is QuestionType.MULTI:
            test: dict[str, Any] = {"question": question, "includes": self.answer_ids[question]}
        elif qtype in (QuestionType.CHOICE, QuestionType.YESNO):
            test = {"question": question, "in": self.answer_ids[question]}
        elif qtype in (QuestionType.TEXT, None):
            test = {"question": question, "not_equals": ""}
        else:
            raise _ExpressionError(
                f"relevant: whether the {qtype.value} question '{question}' was answered cannot be tested; "
                "only text and select questions can be compared with ''"
            )
        return test if answered else {"not": test}

    def merged(self, node: tuple) -> dict[str, Any] | None:
        """`${q} = 'a' or ${q} = 'b'` as one comparison with two values, the way flow files write it."""
        kind, parts = node
        try:
            tests = [self.condition(part) for part in parts if part[0] in ("compare", "selected")]
        except _ExpressionError:
            return None
        if len(tests) != len(parts) or not all("question" in test for test in tests):
            return None
        if len({test["question"] for test in tests}) != 1:
            return None
        operators = {key for test in tests for key in test if key != "question"}
        wanted = {"not_equals"} if kind == "and" else {"equals", "includes"}
        if len(operators) != 1 or not operators <= wanted:
            return None
        [operator] = operators
        if any(not isinstance(test[operator], str) or test[operator] == "" for test in tests):
            return None
        return {"question": tests[0]["question"], operator: [test[operator] for test in tests]}

    def constraint(self, cells: dict[int, Any], row: int, name: str, kind: str, qtype: QuestionType) -> dict[str, Any]:
        text = _text(self.cell("survey", cells, "constraint"))
        if not text:
            return {}
        usage = {
            QuestionType.NUMBER: "write bounds such as . >= 1 and . <= 100",
            QuestionType.TEXT: "write a length limit such as string-length(.) <= 500",
        }
        if qtype not in usage:
            self.problem(f"constraint is not supported on {kind} questions", "survey", row, "constraint", name)
            return {}
        try:
            bounds = _ConstraintParser(text).parse()
        except _ExpressionError:
            self.problem(f"constraint is not supported: {usage[qtype]}", "survey", row, "constraint", name)
            return {}
        found: dict[str, Any] = {}
        for subject, operator, number in bounds:
            key = _bound(subject, operator, number, kind, qtype)
            if key is None or key in found:
                self.problem(f"constraint is not supported: {usage[qtype]}", "survey", row, "constraint", name)
                return {}
            found[key] = number + {">": 1, "<": -1}.get(operator, 0)
        if "max_length" in found:
            self.max_length_column[name] = "constraint"
        return found

    def parameters(
        self,
        cells: dict[int, Any],
        row: int,
        name: str,
        kind: str,
        qtype: QuestionType,
        max_length: int | None,
    ) -> dict[str, Any]:
        text = _text(self.cell("survey", cells, "parameters"))
        if not text:
            return {}
        values: dict[str, list[str]] = {}
        current = None
        for token in re.split(r"[\s,;]+", re.sub(r"\s*=\s*", "=", text).strip()):
            if "=" in token:
                current, _, value = token.partition("=")
                values[current] = [value] if value else []
            elif current is not None:
                values[current].append(token)
            else:
                self.problem(f"parameters must look like name=value, not '{token}'", "survey", row, "parameters", name)
                return {}
        applies = {
            "max_files": QuestionType.ATTACHMENTS,
            "countries": QuestionType.REGION,
            "max_length": QuestionType.TEXT,
        }
        found: dict[str, Any] = {}
        for key, value in values.items():
            if key == "max-pixels" and kind in ("image", "photo"):
                continue  # a resizing hint for phones; the bot keeps photos as sent
            if key not in applies:
                self.problem(f"parameter '{key}' is not supported", "survey", row, "parameters", name)
            elif applies[key] is not qtype:
                self.problem(
                    f"parameter '{key}' only applies to {APPLIES_TO[key]} questions",
                    "survey",
                    row,
                    "parameters",
                    name,
                )
            elif key == "countries":
                found[key] = value
            elif len(value) != 1 or _whole_number(value[0]) is None:
                self.problem(f"parameter '{key}' must be a whole number", "survey", row, "parameters", name)
            else:
                found[key] = _whole_number(value[0])
        if "max_length" in found:
            if max_length is not None and max_length != found["max_length"]:
                self.problem(
                    f"parameter max_length={found['max_length']} disagrees with the constraint ({max_length})",
                    "survey",
                    row,
                    "parameters",
                    name,
                )
            self.max_length_column.setdefault(name, "parameters")
        return found

    # -- placing the loader's problems --

    def add_flow_problems(self, problems: Iterable[Problem]) -> None:
        """The loader's problems, placed on a row and column, worded for XLSForm, without repeats."""
        taken = {(problem.row, problem.column) for problem in self.problems}
        seen: set[tuple] = set()
        duplicates: dict[str, int] = {}
        for problem in problems:
            row, column = self.locate(problem, duplicates)
            if row in self.rejected_rows and not (column or "").count("!"):
                continue
            if column == "relevant" and any(f"'{name}'" in problem.message for name in self.rejected_names):
                continue  # about a question already reported as not supported
            if (row, column) in taken and row is not None:
                continue
            if column and column.startswith("settings!") and "settings" not in self.rows:
                continue
            key = (row, column, problem.language, problem.message)
            if key in seen and row is not None:
                continue
            seen.add(key)
            self.problems.append(replace(problem, message=_xlsform_words(problem.message), row=row, column=column))
            self.problem_sheets.append((column or "").partition("!")[0] if "!" in (column or "") else "survey")

    def locate(self, problem: Problem, duplicates: dict[str, int]) -> tuple[int | None, str | None]:
        """The row and column a problem of the loader comes from (the loader knows questions, not cells)."""
        message = problem.message
        language = problem.language or _quoted(message, r"(?:a text in|^language) '([^']*)'")
        if problem.question is None:
            settings = self.columns.get("settings") or _Columns("settings")
            if message.startswith("flow id"):
                return 2, settings.where("form_id")
            if message.startswith("version"):
                return 2, settings.where("version")
            if message.startswith("title "):
                return 2, self.translated_column("settings", "form_title", language)
            if message.startswith("language"):
                return 1, self.translated_column("survey", "label", language)
            return None, None
        question = problem.question
        rows = self.question_rows.get(question, [])
        if question.startswith("#") and question[1:].isdigit() and int(question[1:]) <= len(self.position_rows):
            rows = [self.position_rows[int(question[1:]) - 1]]
        if message == "this id is used by two questions":
            duplicates[question] = duplicates.get(question, 0) + 1
            return (rows[min(duplicates[question], len(rows) - 1)] if rows else None), "name"
        row = rows[0] if rows else None
        option = _quoted(message, r"^option (?:id )?'([^']*)'") or _quoted(message, r"^options '[^']*' and '([^']*)'")
        if option is not None:
            option_rows = self.option_rows.get((question, option), [])
            choice_row = option_rows[-1 if "used twice" in message else 0] if option_rows else None
            if message.startswith("option id"):
                return choice_row, "choices!name"
            return choice_row, self.translated_column("choices", "label", language)
        first = message.split(" ", 1)[0]
        if first in LOADER_TEXTS:
            return row, self.translated_column("survey", LOADER_TEXTS[first], language)
        if message.startswith("the message in Telegram"):
            return row, self.translated_column("survey", "label", language)
        if message.startswith("max_length"):
            return row, self.max_length_column.get(question, "constraint")
        column = next((column for pattern, column in LOADER_COLUMNS if pattern.search(message)), None)
        return row, column

    def translated_column(self, sheet: str, base: str, language: str | None) -> str:
        columns = self.columns.get(sheet) or _Columns(sheet)
        if language is None:
            return columns.where(base)
        if language in columns.translated.get(base, {}):
            return columns.where(columns.translated[base][language][1])
        plain_label = "label" in self.columns["survey"].plain
        if language == self.default and (base in columns.plain or plain_label):
            return columns.where(base)
        suffix = self.suffixes.get(language) or _language_suffix(language)
        return columns.where(f"{base}::{suffix}")


class _RelevantParser:
    """relevant := or; or := and ('or' and)*; and := unary ('and' unary)*;
    unary := 'not' '(' or ')' | '(' or ')' | selected(${q}, 'x') | ${q} op value | value op ${q}."""

    def __init__(self, text: str, what: str = "relevant"):
        self.text = text
        self.what = what
        self.tokens = _tokens(text, what)
        self.position = 0

    def error(self, reason: str) -> _ExpressionError:
        return _ExpressionError(f"cannot read {self.what}: {reason}")

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def take(self, kind: str, text: str | None = None) -> str:
        token_kind, token_text = self.peek()
        if token_kind != kind or (text is not None and token_text != text):
            wanted = f"'{text}'" if text else WANTED.get(kind, kind)
            raise self.error(f"expected {wanted} {self.at()}")
        self.position += 1
        return token_text

    def at(self) -> str:
        kind, text = self.peek()
        return "at the end" if kind == "end" else f"at '{text}'"

    def parse(self) -> tuple:
        node = self.either()
        if self.peek()[0] != "end":
            raise self.error(f"unexpected {self.at()[3:]}")
        return node

    def either(self) -> tuple:
        parts = [self.both()]
        while self.peek() == ("word", "or"):
            self.position += 1
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def both(self) -> tuple:
        parts = [self.unary()]
        while self.peek() == ("word", "and"):
            self.position += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def unary(self) -> tuple:
        kind, text = self.peek()
        if kind == "(":
            self.position += 1
            inner = self.either()
            self.take(")")
            return ("group", inner)
        if kind == "word":
            self.position += 1
            if self.peek()[0] != "(":
                raise self.error(f"unexpected '{text}'")
            self.position += 1
            if text == "not":
                inner = self.either()
                self.take(")")
                return ("not", inner)
            if text == "selected":
                question = self.take("ref")
                self.take(",")
                value_kind, value = self.peek()
                if value_kind not in ("value", "number"):
                    raise self.error(f"expected a value in quotes {self.at()}")
                self.position += 1
                self.take(")")
                return ("selected", question, value)
            raise self.error(f"the function {text}() is not supported")
        return self.comparison()

    def comparison(self) -> tuple:
        left_kind, left = self.peek()
        if left_kind not in ("ref", "value", "number"):
            raise self.error(f"expected a comparison such as ${{name}} = 'yes' {self.at()}")
        self.position += 1
        operator = self.take("op")
        right_kind, right = self.peek()
        if right_kind not in ("ref", "value", "number"):
            raise self.error(f"expected a value {self.at()}")
        self.position += 1
        if (left_kind == "ref") == (right_kind == "ref"):
            raise self.error("compare a question, written ${name}, with a value")
        if left_kind != "ref":  # 'yes' = ${q}
            flipped = {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(operator, operator)
            return ("compare", right, flipped, left, left_kind == "number")
        return ("compare", left, operator, right, right_kind == "number")


class _ConstraintParser(_RelevantParser):
    """constraint := bound ('and' bound)*; bound := . op number | string-length(.) op number (or reversed)."""

    def __init__(self, text: str):
        super().__init__(text, "constraint")

    def parse(self) -> list[tuple[str, str, int | float]]:  # type: ignore[override]
        bounds = [self.bound()]
        while self.peek() == ("word", "and"):
            self.position += 1
            bounds.append(self.bound())
        if self.peek()[0] != "end":
            raise self.error(f"unexpected {self.at()[3:]}")
        return bounds

    def subject(self) -> str | None:
        kind, text = self.peek()
        if kind == "dot":
            self.position += 1
            return "value"
        if (kind, text) == ("word", "string-length"):
            self.position += 1
            self.take("(")
            self.take("dot")
            self.take(")")
            return "length"
        return None

    def bound(self) -> tuple[str, str, int | float]:
        subject = self.subject()
        if subject is not None:
            operator = self.take("op")
            return subject, operator, _number(self.take("number"))
        number = _number(self.take("number"))
        operator = self.take("op")
        subject = self.subject()
        if subject is None:
            raise self.error(f"expected . or string-length(.) {self.at()}")
        return subject, {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(operator, operator), number


WANTED = {
    "ref": "${name}",
    "value": "a value in quotes",
    "number": "a number",
    "op": "an operator such as = or !=",
    "dot": "'.'",
    "(": "'('",
    ")": "')'",
    ",": "','",
}
TOKEN = re.compile(
    r"""\s*(?:
      \$\{\s*(?P<ref>[^}]*?)\s*\}
    | '(?P<single>[^']*)' | "(?P<double>[^"]*)"
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>!=|>=|<=|=|>|<)
    | (?P<punct>[(),])
    | (?P<dot>\.)(?!\d)
    | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str, what: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if match is None:
            rest = text[position:].strip()
            reason = "a quote is not closed" if rest[:1] in ("'", '"') else f"unexpected '{rest[:20]}'"
            raise _ExpressionError(f"cannot read {what}: {reason}")
        position = match.end()
        group = match.lastgroup
        if group in ("single", "double"):
            tokens.append(("value", match.group(group)))
        elif group == "punct":
            tokens.append((match.group(group), match.group(group)))
        else:
            tokens.append((group or "", match.group(group)))
    return tokens


def _bound(subject: str, operator: str, number: int | float, kind: str, qtype: QuestionType) -> str | None:
    """Which of min, max and max_length a bound sets, if the model can hold it."""
    strict = operator in (">", "<")
    whole = isinstance(number, int)
    if qtype is QuestionType.NUMBER and subject == "value":
        if strict and not (whole and kind in ("integer", "int")):
            return None  # the bot's bounds include the limit: 'above 0' exists only for whole numbers
        return {">=": "min", ">": "min", "<=": "max", "<": "max"}.get(operator)
    if qtype is QuestionType.TEXT and subject == "length" and whole and operator in ("<=", "<"):
        return "max_length"
    return None


# ---- writing ----------------------------------------------------------------------------------------------------


def write_xlsform(flow: Flow) -> bytes:
    """The flow as an XLSForm: survey, choices and settings sheets, no author and no dates."""
    suffixes = [f"{_language_name_for(code)} ({code})" for code in flow.languages]
    yes_no = _free_list_name(flow)

    def per_language(base: str) -> list[str]:
        return [f"{base}::{suffix}" for suffix in suffixes]

    def texts(values: Any) -> list[str]:
        return [(values or {}).get(code, "") for code in flow.languages]

    survey_header = [
        "type",
        "name",
        *per_language("label"),
        *per_language("hint"),
        "required",
        "relevant",
        "constraint",
        *per_language("constraint_message"),
        *per_language("required_message"),
        "parameters",
        "urgent_if",
        *per_language("tipbot_label"),
        "quick",
    ]
    survey = [survey_header]
    choices = [["list_name", "name", *per_language("label")]]
    for question in flow.questions:
        survey.append(
            [
                _export_type(question, yes_no),
                question.id,
                *texts(question.text),
                *texts(question.hint),
                "yes" if question.required and question.asks else "",
                _expression(question.when) if question.when else "",
                _export_constraint(question),
                *texts(question.constraint_message),
                *texts(question.required_message),
                _export_parameters(question),
                " ".join(question.urgent_if),
                *texts(question.label),
                "yes" if question.quick else "",
            ]
        )
        for option in question.options:
            choices.append([question.id, option.id, *texts(option.text)])
    if any(question.type is QuestionType.YESNO for question in flow.questions):
        for index, option in enumerate((YES, NO)):
            words = [YES_NO_WORDS.get(code, YES_NO_WORDS["en"])[index] for code in flow.languages]
            choices.append([yes_no, option, *words])
    settings = [
        ["form_id", "version", *per_language("form_title"), "default_language"],
        [flow.id, flow.version, *texts(flow.title), suffixes[0]],
    ]

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in (("survey", survey), ("choices", choices), ("settings", settings)):
        _write_sheet(workbook.create_sheet(title), rows)
    return workbook_bytes(workbook)


def _export_type(question: Question, yes_no: str) -> str:
    kind = question.type
    if kind is QuestionType.CHOICE:
        return f"select_one {question.id}"
    if kind is QuestionType.MULTI:
        return f"select_multiple {question.id}"
    if kind is QuestionType.YESNO:
        return f"select_one {yes_no}"
    return {
        QuestionType.TEXT: "text",
        QuestionType.NUMBER: "decimal",  # the bot accepts any number, not only whole ones
        QuestionType.DATE: "date",
        QuestionType.REGION: "region",
        QuestionType.ATTACHMENTS: "file",
        QuestionType.INFO: "note",
    }[kind]


def _export_constraint(question: Question) -> str:
    if question.type is QuestionType.TEXT:
        return f"string-length(.) <= {question.max_length}"
    if question.type is QuestionType.NUMBER:
        bounds = ((">=", question.min), ("<=", question.max))
        return " and ".join(f". {operator} {_number_text(limit)}" for operator, limit in bounds if limit is not None)
    return ""


def _export_parameters(question: Question) -> str:
    if question.type is QuestionType.ATTACHMENTS:
        return f"max_files={question.max_files}"
    if question.type is QuestionType.REGION:
        return "countries=" + " ".join(question.countries)
    return ""


def _expression(condition: Condition, nested: bool = False) -> str:
    """A condition in XLSForm syntax; nested and/or get parentheses, so reading it back gives the same tree."""
    if isinstance(condition, Compare):
        question = "${" + condition.question + "}"
        if not condition.values:
            raise ValueError(f"a condition on '{condition.question}' compares with no value")
        if condition.operator in NUMERIC_OPERATORS:
            symbol = {code: symbol for symbol, code in XLS_NUMERIC.items()}[condition.operator]
            limit = float(condition.values[0])
            return f"{question} {symbol} {int(limit) if limit.is_integer() else limit}"
        if condition.operator == "includes":
            parts = [f"selected({question}, {_quote(value)})" for value in condition.values]
        else:
            operator = "!=" if condition.operator == "not_equals" else "="
            parts = [f"{question} {operator} {_quote(value)}" for value in condition.values]
        text = (" and " if condition.operator == "not_equals" else " or ").join(parts)
        return f"({text})" if nested and len(parts) > 1 else text
    if isinstance(condition, AllOf | AnyOf):
        joiner = " and " if isinstance(condition, AllOf) else " or "
        text = joiner.join(_expression(part, nested=True) for part in condition.parts)
        return f"({text})" if nested and len(condition.parts) > 1 else text
    if isinstance(condition, Not):
        return f"not({_expression(condition.part)})"
    raise ValueError(f"cannot write {condition!r} as an XLSForm relevant")


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"cannot quote {value!r} in an XLSForm expression")


def _free_list_name(flow: Flow) -> str:
    """'yes_no', unless a question (whose list takes its id) already has that name."""
    taken = {question.id for question in flow.questions}
    name, number = "yes_no", 1
    while name in taken:
        number += 1
        name = f"yes_no_{number}"
    return name


def _write_sheet(sheet: Any, rows: list[list[Any]]) -> None:
    widths: dict[int, int] = {}
    for values in rows:
        sheet.append([_xlsx_value(value) for value in values])
        for index, value in enumerate(values, start=1):
            widths[index] = max(widths.get(index, 0), len(str(value)))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=1):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # a text, never a formula
    sheet.freeze_panes = "A2"
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = min(60, max(8, width + 2))


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value) or None
    return value


# ---- small helpers ----------------------------------------------------------------------------------------------


def _sheet_rows(sheet: Any) -> dict[int, dict[int, Any]]:
    """Row to column to value, for cells with a value only (formatting far below the form costs nothing)."""
    rows: dict[int, dict[int, Any]] = {}
    for (row, column), cell in sheet._cells.items():
        if cell.value is not None and _text(cell.value) != "":
            rows.setdefault(row, {})[column] = cell.value
    return rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = _text(value)
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _parse_type(text: str) -> tuple[str, str | None, bool]:
    """(kind, list name, or_other) of a type cell; kinds use underscores ('begin group' is 'begin_group')."""
    words = text.split()
    if not words:
        return "", None, False
    joined = " ".join(words)
    for spelling, kind in (
        ("select all that apply", "select_multiple"),
        ("select one", "select_one"),
        ("begin group", "begin_group"),
        ("end group", "end_group"),
        ("begin repeat", "begin_repeat"),
        ("end repeat", "end_repeat"),
    ):
        if joined.lower().startswith(spelling + " ") or joined.lower() == spelling:
            words = [kind, *joined[len(spelling) :].split()]
            break
    kind = words[0] if words[0] == "dateTime" else words[0].lower()
    if kind in ("select_one", "select_multiple") and len(words) >= 2:
        or_other = len(words) == 3 and words[2].lower() == "or_other"
        if len(words) == 2 or or_other:
            return kind, words[1], or_other
        return kind, " ".join(words[1:]), False
    if kind in UNSUPPORTED_TYPES or len(words) == 1:
        return kind, None, False
    return joined, None, False


def _language_code(suffix: str) -> str | None:
    """'Russian (ru)', 'ru' and 'Russian' give 'ru'; 'uz-Cyrl' is written 'uz_Cyrl' as the bot names it."""
    suffix = suffix.strip()
    named = NAMED_LANGUAGE.match(suffix)
    code = named.group("code").strip() if named else suffix
    if LANGUAGE_CODE.match(code):
        return code.replace("-", "_")
    return KNOWN_NAMES.get(suffix.lower())  # 'label::English', as older forms write it


def _language_name(suffix: str) -> str:
    named = NAMED_LANGUAGE.match(suffix.strip())
    return named.group("name").strip() if named else suffix.strip()


def _language_name_for(code: str) -> str:
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    try:
        import pycountry

        found = pycountry.languages.get(alpha_2=code.split("_")[0])
    except (ImportError, KeyError, LookupError):
        found = None
    return found.name if found is not None else code


def _language_suffix(code: str) -> str:
    return f"{_language_name_for(code)} ({code})"


def _quoted(message: str, pattern: str) -> str | None:
    match = re.search(pattern, message)
    return match.group(1) if match else None


LOADER_TEXTS = {
    "text": "label",
    "hint": "hint",
    "label": "tipbot_label",
    "constraint_message": "constraint_message",
    "required_message": "required_message",
}
"""The first word of the loader's problems about a text, and the column that text comes from."""
LOADER_COLUMNS = tuple(
    (re.compile(pattern), column)
    for pattern, column in (
        (r"^(id must be|this id|the button data)", "name"),
        (r"^(type |needs a non-empty list|\w+ questions cannot have options|a \w+ question)", "type"),
        (r"^(when|the first (quick text )?question|can never be asked)", "relevant"),
        (r"^urgent_if", "urgent_if"),
        (r"^(min|max)\b|questions cannot have (min|max)", "constraint"),
        (r"^(max_files|countr|a region question)", "parameters"),
        (r"questions cannot have (max_files|countries|max_length)", "parameters"),
        (r"^(required|info questions cannot be required)", "required"),
        (r"^(quick|info questions cannot be quick)", "quick"),
    )
)
"""Where the loader's other problems about a question come from."""

XLSFORM_WORDS = (
    (re.compile(r"^text "), "label "),
    (re.compile(r"^label "), "tipbot_label "),
    (re.compile(r"^id must be"), "name must be"),
    (re.compile(r"^this id is used by two questions"), "this name is used by two questions"),
    (re.compile(r"^when needs"), "relevant needs"),
    (re.compile(r"^when compares '([^']*)' with unknown option"), r"relevant compares '\1' with unknown choice"),
    (re.compile(r"^when "), "relevant "),
    (re.compile(r"^option id '([^']*)' must be"), r"choice name '\1' must be"),
    (re.compile(r"^option id '([^']*)' is used twice"), r"choice name '\1' is used twice in the list"),
    (re.compile(r"^option '"), "choice '"),
    (re.compile(r"^needs a non-empty list of options"), "needs a list with choices"),
    (re.compile(r"cannot have a when$"), "cannot have a relevant"),
)


def _xlsform_words(message: str) -> str:
    """The loader's words for flow files, in the words of the spreadsheet: label, name, relevant, choice."""
    for pattern, replacement in XLSFORM_WORDS:
        if pattern.search(message):
            return pattern.sub(replacement, message, count=1)
    return message
