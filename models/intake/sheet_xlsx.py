"""Reading an .xlsx sign-up sheet (first sheet only) with openpyxl, its parts checked before it is opened."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from models.core import SheetError
from models.intake.columns import REQUIRED_COLUMNS
from models.intake.sheet_files import SheetLimits, check_xlsx_parts, open_regular_file
from models.intake.sheet_rows import (
    HeaderError,
    RawRows,
    SheetRows,
    build_sheet_rows,
    find_header,
    map_header,
)

__all__ = ["read_xlsx"]


def read_xlsx(path: Path, limits: SheetLimits) -> SheetRows:
    with open_regular_file(path, limits) as handle:
        check_xlsx_parts(handle, path.name, limits)
    try:
        return build_sheet_rows(path.name, None, lambda: _xlsx_rows(path, limits), limits)
    except HeaderError as exc:
        raise SheetError(f"{exc}; {_sheets_hint(path, limits)}") from exc


_XLSX_ERRORS = (
    SyntaxError,  # xml.etree's ParseError
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    OSError,
    EOFError,
    zlib.error,
    zipfile.BadZipFile,
)


def _xlsx_rows(path: Path, limits: SheetLimits, index: int = 0) -> RawRows:
    # Imported here: CSV-only callers skip openpyxl's import cost.
    from openpyxl import load_workbook

    with open_regular_file(path, limits) as handle:
        try:
            # data_only: a formula cell yields the value Excel last calculated; nothing is evaluated here.
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except _XLSX_ERRORS as exc:
            raise SheetError(f"cannot open {path.name} as an .xlsx workbook; save as .xlsx or CSV") from exc
        try:
            if not workbook.worksheets:
                raise SheetError(f"{path.name}: the workbook has no sheets")
            # First sheet, not the active one: the active sheet is whichever was open when it was saved.
            sheet = workbook.worksheets[index]
            # read_only trusts the sheet's declared <dimension>, which some exporters leave stale (rows
            # beyond it were silently dropped): forget it and read every row there is.
            sheet.reset_dimensions()
            yield from sheet.iter_rows(values_only=True)
        except _XLSX_ERRORS as exc:
            raise SheetError(
                f"{path.name}: the workbook is damaged ({type(exc).__name__}); "
                "open it in Excel and save it again"
            ) from exc
        finally:
            workbook.close()


def _sheets_hint(path: Path, limits: SheetLimits) -> str:
    """Which sheets the workbook has, and the first one after the first that holds a sign-up header."""
    from openpyxl import load_workbook

    with open_regular_file(path, limits) as handle:
        workbook = load_workbook(handle, read_only=True, data_only=True)
        names = workbook.sheetnames
        workbook.close()
    listed = ", ".join(repr(name) for name in names)
    for index, name in enumerate(names[1:], start=1):
        try:
            _header_row, header = find_header(_xlsx_rows(path, limits, index), path.name)
            positions = map_header(header, path.name)[0]
        except SheetError:
            continue
        if all(column in positions for column in REQUIRED_COLUMNS):
            return f"the sign-ups seem to be on sheet {name!r}: move it to the front (sheets: {listed})"
    return f"only the first sheet is read (sheets: {listed})"
