"""Spreadsheet exports: constant-memory xlsxwriter, every cell written as a value (never a formula),
text that a spreadsheet would treat as a formula neutralised (R40), a safe download filename."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterable, Sequence
from urllib.parse import quote

import xlsxwriter
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: str) -> str:
    """For CSV: prefix text that starts like a formula with an apostrophe."""
    return "'" + value if value and value.startswith(FORMULA_PREFIXES) else value


def content_disposition(filename: str) -> str:
    ascii_name = (
        "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in filename) or "export"
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def safe_sheet_name(title: str) -> str:
    r"""A worksheet name Excel accepts: none of ``[ ] : * ? / \``, no apostrophe at either end, at most 31
    characters, not empty and not the reserved "History". The title itself (file name, headings) is kept as
    entered; only the sheet's name is adapted."""
    name = _SHEET_FORBIDDEN.sub("_", str(title)).strip("'")[:31].strip("'")
    return name if name.strip() and name.lower() != "history" else "Sheet1"


def write_xlsx(path_or_file, sheet: str, headers: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Write rows; strings always as strings (``write_string``), so no cell becomes a formula."""
    wb = xlsxwriter.Workbook(
        path_or_file,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    ws = wb.add_worksheet(safe_sheet_name(sheet))
    head = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for col, title in enumerate(headers):
        ws.write_string(0, col, str(title), head)
        ws.set_column(col, col, max(10, min(40, len(str(title)) * 2 + 4)))
    count = 0
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                ws.write_string(r, c, gettext("是") if value else gettext("否"))
            elif isinstance(value, int | float):
                ws.write_number(r, c, value)
            elif isinstance(value, dt.datetime):
                ws.write_string(r, c, timezone.localtime(value).strftime("%Y-%m-%d %H:%M"))
            elif isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
            else:
                ws.write_string(r, c, str(value))
        count += 1
    ws.freeze_panes(1, 0)
    wb.close()
    return count


def xlsx_response(title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> FileResponse:
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    write_xlsx(tmp, title, headers, rows)
    tmp.seek(0)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = FileResponse(
        tmp, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = content_disposition(f"{title}-{stamp}.xlsx")
    response["Cache-Control"] = "no-store"
    return response
