"""Saving an openpyxl workbook without leaving traces: no temporary files on disk (each worksheet is
serialised in memory), no creator, editor or software version, and every date fixed at 2000-01-01."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

FIXED_DATE = datetime(2000, 1, 1)
FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
EMPTY_APP_PROPERTIES = (
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"/>'
)


def workbook_bytes(workbook: Workbook) -> bytes:
    properties = workbook.properties
    properties.creator = properties.lastModifiedBy = None
    properties.created = properties.modified = FIXED_DATE  # the format needs some date: a meaningless one
    buffer = io.BytesIO()
    with _FixedTimeZip(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _MemoryExcelWriter(workbook, archive).write_data()
    return buffer.getvalue()


class _FixedTimeZip(zipfile.ZipFile):
    """Every member dated 2000-01-01, so the file does not tell when it was made, nor with which software."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if zinfo_or_arcname == "docProps/app.xml":  # openpyxl names itself and its version there
            data = EMPTY_APP_PROPERTIES
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo = zipfile.ZipInfo(zinfo_or_arcname, date_time=FIXED_ZIP_TIME)
            zinfo.compress_type = self.compression if compress_type is None else compress_type
            zinfo.external_attr = 0o600 << 16
            zinfo_or_arcname = zinfo
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)


class _MemoryExcelWriter(ExcelWriter):
    """openpyxl's writer, but each worksheet is serialised into memory instead of a temporary file."""

    def write_worksheet(self, ws):
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = WorksheetWriter(ws, out=io.BytesIO())
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.read())
        self.manifest.append(ws)
