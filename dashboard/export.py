"""Every dashboard table as a download: CSV (UTF-8 with a byte-order mark, so Excel on a Chinese Windows
opens it as UTF-8 instead of GBK) and xlsx (openpyxl). Headers and cells are the page's own."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dashboard.analytics import Cell, Kind, Table

__all__ = ["CSV_TYPE", "XLSX_TYPE", "to_csv", "to_xlsx"]

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(value: Cell, kind: Kind) -> str:
    if value is None:
        return ""
    if kind is Kind.PCT and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if kind is Kind.DAYS and isinstance(value, int | float):
        return f"{value:.1f}"
    return str(value)


def _safe(text: str) -> str:
    """A cell Excel would run as a formula (=, +, -, @ first: OWASP CSV injection) is quoted as text;
    drive names are typed by staff. Numbers never reach here as text starting with a sign."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe(column.label) for column in table.columns])
    for row in table.rows:
        writer.writerow(
            [
                _safe(_text(value, column.kind)) if column.kind is Kind.TEXT else _text(value, column.kind)
                for value, column in zip(row, table.columns, strict=True)
            ]
        )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.key[:31]
    sheet.append([column.label for column in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_safe(value) if isinstance(value, str) else value for value in row])
    for index, column in enumerate(table.columns, start=1):
        fmt = {Kind.PCT: "0.0%", Kind.DAYS: "0.0", Kind.INT: "#,##0"}.get(column.kind)
        letter = get_column_letter(index)
        width = (
            max(len(column.label), *(len(str(r[index - 1] or "")) for r in table.rows), 6)
            if table.rows
            else 12
        )
        sheet.column_dimensions[letter].width = min(40, width + 2)
        if fmt:
            for cells in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                for cell in cells:
                    cell.number_format = fmt
    sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
