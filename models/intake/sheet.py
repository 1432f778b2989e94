"""Reading a drive's sign-up sheet: a CSV or .xlsx file → rows of text cells keyed by canonical column names.

This module only reads. Whether a row is a valid sign-up is `models.intake.validation`'s question; cells
come out as the spreadsheet shows them (stripped text, None when empty), never evaluated.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

import charset_normalizer

from models.core import SheetError
from models.intake.sheet_files import (
    DEFAULT_LIMITS,
    SheetLimits,
    cell_too_long,
    check_regular_file,
    check_xlsx_parts,
    open_regular_file,
    too_many_rows,
)

__all__ = [
    "CHINESE_COLUMN_NAMES",
    "HLA_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SheetLimits",
    "SheetRow",
    "SheetRows",
    "check_rejects_path",
    "read_sheet",
    "safe_cell",
    "write_rejects_csv",
]

SheetRow = tuple[int, dict[str, str | None]]
"""(row number as the spreadsheet shows it, cells keyed by canonical column name)."""
_RawRows = Generator[Sequence[object], None, None]

REQUIRED_COLUMNS: tuple[str, ...] = ("name", "sex", "national_id", "phone", "consent_at")
HLA_COLUMNS: tuple[str, ...] = tuple(
    f"{locus}_{i}" for locus in ("A", "B", "C", "DRB1", "DQB1", "DPB1") for i in (1, 2)
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("birth_date", "email", "blood_group", "external_id", *HLA_COLUMNS)
CHINESE_COLUMN_NAMES: dict[str, str] = {
    "name": "姓名",
    "sex": "性别",
    "birth_date": "出生日期",
    "national_id": "身份证号",
    "phone": "手机号",
    "email": "邮箱",
    "blood_group": "血型",
    "consent_at": "知情同意时间",
    "external_id": "外部编号",
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "姓名"),
    "sex": ("sex", "gender", "性别"),
    "birth_date": ("birth_date", "date of birth", "birthday", "dob", "出生日期", "生日"),
    "national_id": ("national_id", "id number", "id_no", "resident id", "身份证号", "身份证号码", "身份证"),
    "phone": (
        "phone",
        "mobile",
        "phone number",
        "mobile phone",
        "手机号",
        "手机号码",
        "手机",
        "电话",
        "联系电话",
    ),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件"),
    "blood_group": ("blood_group", "blood type", "abo", "血型"),
    "consent_at": ("consent_at", "consent", "consent date", "consent time", "知情同意时间", "同意时间"),
    "external_id": ("external_id", "外部编号"),
}
_NOTE_RE = re.compile(r"\(.*\)$")  # "手机号（必填）", "出生日期(yyyy-mm-dd)"
_KEY_DROP_RE = re.compile(r"[\s_\-.*:]+")
_EDGE_BLANKS_RE = re.compile(r"^[\s\u200b\ufeff]+|[\s\u200b\ufeff]+$")
_HEADER_SEARCH_ROWS = 10  # a title row ("2021年…报名表") often sits above the header
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_BOMS = (  # longest first: the UTF-32 LE BOM begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_GB_ENCODINGS = frozenset({"gb2312", "gbk", "gb18030", "hz"})
_CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
_EXACT_FLOAT_LIMIT = 1e15  # Excel keeps 15 significant digits; beyond that a "whole" float is not exact


def _header_key(label: str) -> str:
    key = unicodedata.normalize("NFKC", label).strip().lower()
    key = _NOTE_RE.sub("", key)
    return _KEY_DROP_RE.sub("", key)


def _build_lookup() -> dict[str, str]:
    lookup = {_header_key(alias): column for column, aliases in _ALIASES.items() for alias in aliases}
    for column in HLA_COLUMNS:  # A_1, A1, A-1, HLA-A_1, hla a1 all reduce to "a1"
        lookup[_header_key(column)] = column
    return lookup


_LOOKUP = _build_lookup()


def _canonical(label: str) -> str | None:
    key = _header_key(label)
    if key.startswith("hla") and _LOOKUP.get(key[3:], "") in HLA_COLUMNS:
        key = key[3:]
    return _LOOKUP.get(key)


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


def read_sheet(path: Path, limits: SheetLimits = DEFAULT_LIMITS) -> SheetRows:
    """Open a sign-up sheet (.csv/.tsv/.txt or .xlsx) and map its header; SheetError if it can't be used.

    The whole file is read once here, within `limits`, so a file that breaks them (or is damaged further
    down) is refused before the caller has imported a single row.
    """
    check_regular_file(path, limits)  # a FIFO, device or folder is refused before it is opened
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        sheet = _read_xlsx(path, limits)
    elif suffix in _CSV_SUFFIXES:
        sheet = _read_csv(path, limits)
    elif suffix == ".xls":
        raise SheetError(f"{path.name} is an old Excel .xls file, not supported; save as .xlsx or CSV")
    else:
        raise SheetError(
            f"unsupported file type {suffix or '(none)'!r} for {path.name}; save as .xlsx or CSV"
        )
    sheet.row_count = sum(1 for _ in sheet)
    return sheet


# --- CSV ---------------------------------------------------------------------------------------------------


def _read_csv(path: Path, limits: SheetLimits) -> SheetRows:
    with open_regular_file(path, limits) as handle:
        data = handle.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:  # it grew since the check
        raise SheetError(f"{path.name} is larger than the import limit of {limits.max_file_bytes:,} bytes")
    if data.startswith(b"PK\x03\x04"):
        raise SheetError(f"{path.name} is an Excel workbook with a {path.suffix} name; rename it to .xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(f"{path.name} is an old Excel .xls file; save as .xlsx or CSV")
    text, encoding = _decode(data, path.name)
    delimiter = _sniff_delimiter(text)

    def raw_rows() -> _RawRows:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            yield from reader
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):  # the csv module's own cap, 131,072
                raise SheetError(cell_too_long(path.name, reader.line_num, limits)) from None
            raise SheetError(f"{path.name}: row {reader.line_num} is not valid CSV ({exc})") from exc

    return _sheet_rows(path.name, encoding, raw_rows, limits)


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """UTF-8 (BOM optional), UTF-16/32 with a BOM (Excel's "Unicode text"), else GBK/GB18030; nothing else.

    Without a BOM, UTF-16 is only a guess (charset-normalizer gets it right on some files, not others):
    refused outright rather than read as garbage and reported as missing columns.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding.replace("-le", "").replace("-be", "")
            except UnicodeDecodeError:
                raise SheetError(_encoding_refused(name)) from None
    sample = data[:4096]
    # Every other byte NUL: UTF-16 (or 32) without a BOM. Checked before UTF-8, which ASCII-heavy UTF-16
    # passes (NUL is valid UTF-8); a NUL or two in a cell stays a per-row problem, not the file's.
    if sample.count(0) * 8 >= len(sample):
        raise SheetError(_encoding_refused(name))
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    matches = list(charset_normalizer.from_bytes(data))
    # On short Chinese text charset-normalizer often ranks Big5 or a Japanese/Korean code page first while
    # GB18030 also decodes cleanly; for a mainland registry GBK is by far the likelier, so prefer it.
    if not any(match.encoding in _GB_ENCODINGS for match in matches):
        raise SheetError(_encoding_refused(name))
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise SheetError(_encoding_refused(name)) from exc


def _encoding_refused(name: str) -> str:
    return (
        f"{name}: the file's encoding could not be read; accepted: UTF-8 (with or without BOM), "
        "GBK/GB18030, UTF-16 with BOM. Save it as UTF-8"
    )


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:_HEADER_SEARCH_ROWS] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff(lines[0], delimiters=",\t;").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",\t;"}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] else ","


# --- xlsx --------------------------------------------------------------------------------------------------


def _read_xlsx(path: Path, limits: SheetLimits) -> SheetRows:
    with open_regular_file(path, limits) as handle:
        check_xlsx_parts(handle, path.name, limits)
    try:
        return _sheet_rows(path.name, None, lambda: _xlsx_rows(path, limits), limits)
    except _HeaderError as exc:
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


def _xlsx_rows(path: Path, limits: SheetLimits, index: int = 0) -> _RawRows:
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
            _header_row, header = _find_header(_xlsx_rows(path, limits, index), path.name)
            positions = _map_header(header, path.name)[0]
        except SheetError:
            continue
        if all(column in positions for column in REQUIRED_COLUMNS):
            return f"the sign-ups seem to be on sheet {name!r}: move it to the front (sheets: {listed})"
    return f"only the first sheet is read (sheets: {listed})"


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


# --- header and rows ---------------------------------------------------------------------------------------


class _HeaderError(SheetError):
    """No usable header on the sheet read (for an .xlsx the reader then names the sheets there are)."""


def _sheet_rows(
    source: str, encoding: str | None, raw_rows: Callable[[], _RawRows], limits: SheetLimits
) -> SheetRows:
    def capped_rows() -> _RawRows:
        return _capped(raw_rows(), source, limits)

    header_row, header = _find_header(capped_rows(), source)
    positions, labels, ignored = _map_header(header, source)
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        names = ", ".join(f"{column} ({CHINESE_COLUMN_NAMES[column]})" for column in missing)
        raise _HeaderError(f"{source}: missing required column(s): {names}")

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


def _capped(rows: _RawRows, source: str, limits: SheetLimits) -> _RawRows:
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


def _find_header(rows: _RawRows, source: str) -> tuple[int, list[str]]:
    """The first row naming at least two known columns within the first few rows, else the first non-blank."""
    first: tuple[int, list[str]] | None = None
    try:
        for number, values in enumerate(rows, start=1):
            labels = [_cell_text(value) or "" for value in values]
            if not any(labels):
                continue
            if first is None:
                first = (number, labels)
            if sum(_canonical(label) is not None for label in labels if label) >= 2:
                return number, labels
            if number >= _HEADER_SEARCH_ROWS:
                break
    finally:
        rows.close()  # releases the workbook's file handle
    if first is None:
        raise _HeaderError(f"{source} is empty: no header row")
    return first


def _map_header(header: list[str], source: str) -> tuple[dict[str, int], dict[str, str], list[str]]:
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for index, label in enumerate(header):
        if not label:
            continue
        column = _canonical(label)
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


# --- re-export ---------------------------------------------------------------------------------------------


def safe_cell(value: str | None) -> str:
    """Text safe to put in a CSV someone will open in Excel: a leading = + - @ tab or CR gets a single quote.

    OWASP "CSV Injection": prefixing the cell with ' makes spreadsheets treat it as text, not a formula.
    """
    if value is None:
        return ""
    if value.lstrip(" ").startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def write_rejects_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[tuple[int, Mapping[str, str | None], Sequence[str]]],
    *,
    labels: Mapping[str, str] | None = None,
) -> int:
    """Write rejected rows — `(row number, cells, errors)` — as UTF-8 with BOM (so Excel reads it) and return
    how many were written. Columns: row, then `header` (shown as `labels[column]` when given), then errors.
    """
    shown = [labels.get(column, column) if labels else column for column in header]
    count = 0
    # Atomic: a temporary file in the same folder, renamed over the target only once complete, so a crash
    # or a full disk never leaves a half-written file (or a truncated old one). mkstemp's mode is 0600,
    # fitting a file full of personal data.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([safe_cell(text) for text in ["row", *shown, "errors"]])
            for number, cells, errors in rows:
                values = [str(number), *(cells.get(column) for column in header), "; ".join(errors)]
                writer.writerow([safe_cell(value) for value in values])
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def check_rejects_path(path: Path, *, source: Path) -> None:
    """Refuse, before anything is imported, a rejects file that would overwrite the sheet being imported
    (also through a link) or that cannot be written: its folder missing, not a folder, or read-only."""
    folder = path.parent
    if not folder.exists():
        raise SheetError(f"rejects file {path.name}: its folder {folder} does not exist")
    if not folder.is_dir():
        raise SheetError(f"rejects file {path.name}: {folder} is not a folder")
    if path.is_dir():
        raise SheetError(f"rejects file {path}: is a folder, not a file")
    same = path.resolve() == source.resolve()
    if not same and path.exists() and source.exists():
        same = os.path.samefile(path, source)  # a hard link to the sheet
    if same:
        raise SheetError(f"rejects file {path.name} is the input sheet itself; write the rejects elsewhere")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SheetError(f"rejects file {path.name}: cannot write in {folder}")
