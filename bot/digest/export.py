"""Tips as a table for staff: CSV and XLSX. Pure: no Telegram, no SQL.

Reporters' free text is untrusted: any cell that a spreadsheet would read as a formula gets a leading
apostrophe. The files carry no author, no software version and no time of creation, and the XLSX is built
entirely in memory (openpyxl otherwise spools worksheets to temporary files on disk, in plain text).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from storage.repository import StoredTip

from ..flows.catalog import FlowCatalog
from ..flows.model import Flow, Question, QuestionType
from ..i18n import gettext_for
from ..render import format_answer, question_title
from ..xlsx import workbook_bytes

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 32767  # Excel's limit for the text of one cell
MIN_WIDTH, MAX_WIDTH = 8, 60

ColumnKey = tuple[str, str]
"""(flow id, question id): questions of different versions of one flow share a column."""


def export_rows(tips: list[StoredTip], flows: FlowCatalog, lang: str) -> tuple[list[str], list[list[str]]]:
    """The header and one row per tip, every cell a string already safe from formula injection.

    Columns: report, date, urgent, questionnaire, then every question that asks something, in flow order;
    with tips from several flows or versions, the union of their questions in order of first appearance."""
    _ = gettext_for(lang)
    columns: dict[ColumnKey, str] = {}
    tip_flows: list[Flow | None] = []
    for tip in tips:
        flow = flows.get(tip.flow_id, tip.flow_version)
        tip_flows.append(flow)
        if flow is None:  # keep what we have, under the raw question ids
            for question_id in tip.answers:
                columns.setdefault((tip.flow_id, question_id), question_id)
            continue
        for question in flow.questions:
            if question.asks and (flow.id, question.id) not in columns:
                columns[(flow.id, question.id)] = question_title(flow, question, lang)

    header = [_("Report"), _("Date"), _("Urgent"), _("Questionnaire"), *columns.values()]
    yes, no = _("Yes"), _("No")
    rows = []
    for tip, flow in zip(tips, tip_flows, strict=True):
        cells: dict[ColumnKey, str] = {}
        if flow is None:
            for question_id, answer in tip.answers.items():
                cells[(tip.flow_id, question_id)] = _raw(answer)
        else:
            for question in flow.questions:
                answer = tip.answers.get(question.id)
                if question.asks and answer is not None:
                    cells[(flow.id, question.id)] = _cell(flow, question, answer, lang)
        row = [
            tip.short_id,
            tip.created_on.strftime("%d.%m.%Y"),
            yes if tip.urgent else no,
            f"{tip.flow_id} v{tip.flow_version}",
            *(cells.get(key, "") for key in columns),
        ]
        rows.append([neutralise(cell) for cell in row])
    return [neutralise(title) for title in header], rows


def export_csv(tips: list[StoredTip], flows: FlowCatalog, lang: str) -> bytes:
    """Comma-separated, RFC 4180 quoting, CRLF line ends, UTF-8 with a BOM so that Excel reads Cyrillic."""
    header, rows = export_rows(tips, flows, lang)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(tips: list[StoredTip], flows: FlowCatalog, lang: str) -> bytes:
    """One sheet: a bold, frozen header with a filter, then one row per tip, every cell text."""
    _ = gettext_for(lang)
    header, rows = export_rows(tips, flows, lang)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _xlsx_text(_("Reports"))[:31]
    sheet.append([_xlsx_text(title) for title in header])
    for row in rows:  # empty answers get no cell at all
        sheet.append({column: _xlsx_text(cell) for column, cell in enumerate(row, start=1) if cell})
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "A2"
    if header:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    for index, width in enumerate(_widths(header, rows), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width

    return workbook_bytes(workbook)


def neutralise(value: str) -> str:
    """A leading apostrophe on anything a spreadsheet could take for a formula (CSV/formula injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(flow: Flow, question: Question, answer: Any, lang: str) -> str:
    if question.type is QuestionType.ATTACHMENTS:
        return str(len(answer)) if isinstance(answer, list) else _raw(answer)
    try:
        return format_answer(flow, question, answer, lang)
    except (KeyError, TypeError, ValueError, AttributeError):  # an answer stored in an unexpected shape
        return _raw(answer)


def _raw(answer: Any) -> str:
    if answer is None:
        return ""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list) and all(isinstance(value, str) for value in answer):
        return "; ".join(answer)
    return json.dumps(answer, ensure_ascii=False, sort_keys=True)


def _xlsx_text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL]


def _widths(header: list[str], rows: Iterable[list[str]]) -> list[float]:
    longest = [len(title) for title in header]
    for row in rows:
        for index, cell in enumerate(row):
            if len(cell) > longest[index]:
                longest[index] = max(longest[index], *(len(line) for line in cell.split("\n")))
    return [min(MAX_WIDTH, max(MIN_WIDTH, length + 2)) for length in longest]
