"""Reading a CSV (or TSV/TXT) sign-up sheet: decode, sniff the delimiter, then map the header."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from models.core import SheetError
from models.intake.sheet_encoding import decode_sheet_text
from models.intake.sheet_files import SheetLimits, cell_too_long, open_regular_file
from models.intake.sheet_rows import HEADER_SEARCH_ROWS, RawRows, SheetRows, build_sheet_rows

__all__ = ["read_csv"]


def read_csv(path: Path, limits: SheetLimits) -> SheetRows:
    with open_regular_file(path, limits) as handle:
        data = handle.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:  # it grew since the check
        raise SheetError(f"{path.name} is larger than the import limit of {limits.max_file_bytes:,} bytes")
    if data.startswith(b"PK\x03\x04"):
        raise SheetError(f"{path.name} is an Excel workbook with a {path.suffix} name; rename it to .xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(f"{path.name} is an old Excel .xls file; save as .xlsx or CSV")
    text, encoding = decode_sheet_text(data, path.name)
    delimiter = _sniff_delimiter(text)

    def raw_rows() -> RawRows:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            yield from reader
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):  # the csv module's own cap, 131,072
                raise SheetError(cell_too_long(path.name, reader.line_num, limits)) from None
            raise SheetError(f"{path.name}: row {reader.line_num} is not valid CSV ({exc})") from exc

    return build_sheet_rows(path.name, encoding, raw_rows, limits)


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:HEADER_SEARCH_ROWS] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff(lines[0], delimiters=",\t;").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",\t;"}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else ","
