"""Reading a drive's sign-up sheet: a CSV or .xlsx file → rows of text cells keyed by canonical column names.

This room's sheet modules only read. Whether a row is a valid sign-up is `models.intake.validation`'s
question; cells come out as the spreadsheet shows them (stripped text, None when empty), never evaluated.
"""

from __future__ import annotations

from pathlib import Path

from models.core import SheetError
from models.intake.sheet_csv import read_csv
from models.intake.sheet_files import DEFAULT_LIMITS, SheetLimits, check_regular_file
from models.intake.sheet_rows import SheetRows
from models.intake.sheet_xlsx import read_xlsx

__all__ = ["read_sheet"]

_CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})


def read_sheet(path: Path, limits: SheetLimits = DEFAULT_LIMITS) -> SheetRows:
    """Open a sign-up sheet (.csv/.tsv/.txt or .xlsx) and map its header; SheetError if it can't be used.

    The whole file is read once here, within `limits`, so a file that breaks them (or is damaged further
    down) is refused before the caller has imported a single row.
    """
    check_regular_file(path, limits)  # a FIFO, device or folder is refused before it is opened
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        sheet = read_xlsx(path, limits)
    elif suffix in _CSV_SUFFIXES:
        sheet = read_csv(path, limits)
    elif suffix == ".xls":
        raise SheetError(f"{path.name} is an old Excel .xls file, not supported; save as .xlsx or CSV")
    else:
        raise SheetError(
            f"unsupported file type {suffix or '(none)'!r} for {path.name}; save as .xlsx or CSV"
        )
    sheet.row_count = sum(1 for _ in sheet)
    return sheet
