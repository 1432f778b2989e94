"""A sheet's rows: find and map the header, then yield each row as text cells keyed by canonical column."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import date, datetime, time, timedelta

from models.core import SheetError
from models.intake.columns import CHINESE_COLUMN_NAMES, REQUIRED_COLUMNS, canonical_column
from models.intake.sheet_files import SheetLimits, cell_too_long, too_many_rows

__all__ = [
    "HEADER_SEARCH_ROWS",
    "HeaderError",
    "RawRows",
    "SheetRow",
    "SheetRows",
    "build_sheet_rows",
    "find_header",
    "map_header",
]


SheetRow = tuple[int, dict[str, str | None]]
"""(row number as the spreadsheet shows it, cells keyed by canonical column name)."""
RawRows = Generator[Sequence[object], None, None]
_EDGE_BLANKS_RE = re.compile(r"^[\s\u200b\ufeff]+|[\s\u200b\ufeff]+$")
HEADER_SEARCH_ROWS = 10  # a title row ("2021年…报名表") often sits above the header
_EXACT_FLOAT_LIMIT = 1e15  # Excel keeps 15 significant digits; beyond that a "whole" float is not exact


class SheetRows:
    """The rows of one sign-up sheet. Iterating reads the file again, so it may be iterated more than once.

    `columns` are the canonical names found, `labels` maps each to its header text as written,
    `ignored_columns` are header texts that map to nothing, `encoding` is the detected text encoding
    (None for .xlsx), `header_row` is the spreadsheet row of the header (1 unless title rows sit above it),
    `row_count` the number of non-blank rows below it (all read once already, within the limits).
    """

    def __init__(
        self,
        *,
        source: str,
        columns: list[str],
        labels: dict[str, str],
        ignored_columns: list[str],
        encoding: str | None,
        header_row: int,
        read_rows: Callable[[], Iterator[SheetRow]],
        row_count: int = 0,
    ) -> None:
        self.source = source
        self.columns = columns
        self.labels = labels
        self.ignored_columns = ignored_columns
        self.encoding = encoding
        self.header_row = header_row
        self._read_rows = read_rows
        self.row_count = row_count

    def __iter__(self) -> Iterator[SheetRow]:
        return self._read_rows()

    def __repr__(self) -> str:
        return (
            f"SheetRows(source={self.source!r}, columns={self.columns!r}, encoding={self.encoding!r}, "
            f"header_row={self.header_row})"
        )


def _cell_text(value: object) -> str | None:
    """A cell as the text a spreadsheet user sees, stripped; None when empty."""
    if value is None:
        return None
    if isinstance(value, str):
        text = _EDGE_BLANKS_RE.sub("", value)
        return text or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Phones and IDs typed into a General cell become numbers: 1.3800138e10 → "13800138000". An 18-digit
        # ID has already lost its last digits, so it stays in scientific form for validation to reject.
        if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        rounded = (value + timedelta(microseconds=500_000)).replace(microsecond=0)  # Excel float noise
        if rounded.time() == time(0) and rounded.tzinfo is None:
            return rounded.date().isoformat()
        return rounded.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


class HeaderError(SheetError):
    """No usable header on the sheet read (for an .xlsx the reader then names the sheets there are)."""


def build_sheet_rows(
    source: str, encoding: str | None, raw_rows: Callable[[], RawRows], limits: SheetLimits
) -> SheetRows:
    def capped_rows() -> RawRows:
        return _capped(raw_rows(), source, limits)

    header_row, header = find_header(capped_rows(), source)
    positions, labels, ignored = map_header(header, source)
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        names = ", ".join(f"{column} ({CHINESE_COLUMN_NAMES[column]})" for column in missing)
        raise HeaderError(f"{source}: missing required column(s): {names}")

    def read_rows() -> Iterator[SheetRow]:
        rows = capped_rows()
        try:
            for number, values in enumerate(rows, start=1):
                if number <= header_row:
                    continue
                cells = {c: _cell_text(values[i]) if i < len(values) else None for c, i in positions.items()}
                # Blank = nothing in any recognised column (templates often pre-number empty rows with 序号).
                if any(value is not None for value in cells.values()):
                    yield number, cells
        finally:
            rows.close()  # releases the workbook's file handle if the caller stops early

    return SheetRows(
        source=source,
        columns=list(positions),
        labels=labels,
        ignored_columns=ignored,
        encoding=encoding,
        header_row=header_row,
        read_rows=read_rows,
    )


def _capped(rows: RawRows, source: str, limits: SheetLimits) -> RawRows:
    """The rows, stopped with a SheetError at the first cell or row over the limits."""
    filled_rows = 0
    try:
        for number, values in enumerate(rows, start=1):
            filled = False
            for value in values:
                if isinstance(value, str):
                    if len(value) > limits.max_cell_chars:
                        raise SheetError(cell_too_long(source, number, limits))
                    filled = filled or not value.isspace() and value != ""
                elif value is not None:
                    filled = True
            if filled:
                filled_rows += 1
                if filled_rows > limits.max_rows:
                    raise SheetError(too_many_rows(source, limits))
            yield values
    finally:
        rows.close()


def find_header(rows: RawRows, source: str) -> tuple[int, list[str]]:
    """The first row naming at least two known columns within the first few rows, else the first non-blank."""
    first: tuple[int, list[str]] | None = None
    try:
        for number, values in enumerate(rows, start=1):
            labels = [_cell_text(value) or "" for value in values]
            if not any(labels):
                continue
            if first is None:
                first = (number, labels)
            if sum(canonical_column(label) is not None for label in labels if label) >= 2:
                return number, labels
            if number >= HEADER_SEARCH_ROWS:
                break
    finally:
        rows.close()  # releases the workbook's file handle
    if first is None:
        raise HeaderError(f"{source} is empty: no header row")
    return first


def map_header(header: list[str], source: str) -> tuple[dict[str, int], dict[str, str], list[str]]:
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for index, label in enumerate(header):
        if not label:
            continue
        column = canonical_column(label)
        if column is None:
            ignored.append(label)
        elif column in positions:
            raise SheetError(
                f"{source}: columns {labels[column]!r} and {label!r} both mean {column}; keep one of them"
            )
        else:
            positions[column] = index
            labels[column] = label
    return positions, labels, ignored
