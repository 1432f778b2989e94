"""Opening a sign-up file without trusting it: only regular files within a size limit, and an .xlsx's XML
scanned in a streaming pass (cell length, row count, no DTD) before openpyxl loads any of it.

openpyxl reads the whole shared-string table into memory when it opens a workbook, and a zip compresses
100 M repeated characters to a few hundred kilobytes, so a file's size alone bounds nothing: the scan stops
at the first cell or row over the limit with the XML read in 64 KiB chunks.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO
from xml.parsers import expat

from models.core import SheetError

__all__ = [
    "DEFAULT_LIMITS",
    "SheetLimits",
    "cell_too_long",
    "check_regular_file",
    "check_xlsx_parts",
    "open_regular_file",
    "too_many_rows",
]


@dataclass(frozen=True)
class SheetLimits:
    """How much of a sign-up file the reader takes on (settings DONORFLOW_IMPORT_MAX_*)."""

    max_file_bytes: int = 50_000_000
    max_cell_chars: int = 1000
    max_rows: int = 200_000  # rows with a value, header and title rows included


DEFAULT_LIMITS = SheetLimits()

# The parts openpyxl parses cell by cell: scanned. Any other part (styles, theme, workbook) is parsed whole
# by openpyxl, so it may not unpack to more than the file limit; scanned parts to this many times it.
_SCANNED_PART = re.compile(r"xl/(?:worksheets/[^/]+|sharedStrings)\.xml", re.IGNORECASE)
_XML_PER_FILE_BYTE = 20
_CHUNK = 64 * 1024


def check_regular_file(path: Path, limits: SheetLimits) -> os.stat_result:
    """stat() (following links) without opening: a folder, FIFO or device is refused unopened."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SheetError(f"file not found: {path.name}") from None
    except OSError as exc:
        raise SheetError(f"cannot read {path.name}: {exc.strerror}") from None
    _check_stat(path.name, info, limits)
    return info


def open_regular_file(path: Path, limits: SheetLimits) -> BinaryIO:
    """Open for reading; the checks are repeated on the open descriptor, so a file swapped for a FIFO
    between the stat and the open is still refused (O_NONBLOCK: opening a FIFO never waits)."""
    check_regular_file(path, limits)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SheetError(f"cannot read {path.name}: {exc.strerror}") from None
    try:
        _check_stat(path.name, os.fstat(fd), limits)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_stat(name: str, info: os.stat_result, limits: SheetLimits) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise SheetError(f"{name} is not a regular file (a folder, device or pipe); it was not read")
    if info.st_size > limits.max_file_bytes:
        raise SheetError(
            f"{name} is larger than the import limit of {limits.max_file_bytes:,} bytes "
            "(DONORFLOW_IMPORT_MAX_FILE_BYTES); split the sheet"
        )


def check_xlsx_parts(handle: IO[bytes], name: str, limits: SheetLimits) -> None:
    """Refuse a workbook whose parts unpack too large, hold malformed XML or a DTD, a cell longer than
    the limit or a sheet with more rows than the limit, reading each part once and stopping at the first."""
    try:
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                scanned = _SCANNED_PART.fullmatch(info.filename) is not None
                allowed = limits.max_file_bytes * (_XML_PER_FILE_BYTE if scanned else 1)
                if info.file_size > allowed:
                    raise SheetError(
                        f"{name}: part {info.filename} unpacks too large ({info.file_size:,} bytes)"
                    )
                if scanned:
                    with archive.open(info) as part:
                        _scan_part(part, name, info.filename, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise SheetError(f"cannot open {name} as an .xlsx workbook; save as .xlsx or CSV") from exc


def _scan_part(part: IO[bytes], name: str, part_name: str, limits: SheetLimits) -> None:
    scan = _PartScan(name, limits)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = scan.refuse_dtd
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.characters
    try:
        while chunk := part.read(_CHUNK):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise SheetError(
            f"{name}: the workbook is damaged ({part_name}: {expat.ErrorString(exc.code)}, "
            f"line {exc.lineno}); open it in Excel and save it again"
        ) from None


class _PartScan:
    """expat handlers: characters of the current cell (<c> in a sheet, <si> in the shared strings) and
    rows holding a value, each checked against the limits as it streams past."""

    def __init__(self, name: str, limits: SheetLimits) -> None:
        self.name = name
        self.limits = limits
        self.in_text = 0
        self.cell_chars = 0
        self.rows = 0
        self.row = "?"
        self.row_has_value = False

    def refuse_dtd(self, *_args: object) -> None:
        raise SheetError(f"{self.name}: the workbook's XML declares a DTD, which Excel never writes; refused")

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        local = tag.rpartition(" ")[2]
        if local in ("t", "v"):
            self.in_text += 1
            self.row_has_value = True
        elif local in ("c", "si"):
            self.cell_chars = 0
        elif local == "row":
            self.row = attributes.get("r", "?")
            self.row_has_value = False

    def end(self, tag: str) -> None:
        local = tag.rpartition(" ")[2]
        if local in ("t", "v"):
            self.in_text -= 1
        elif local == "row" and self.row_has_value:
            self.rows += 1
            if self.rows > self.limits.max_rows:
                raise SheetError(too_many_rows(self.name, self.limits))

    def characters(self, data: str) -> None:
        if self.in_text:
            self.cell_chars += len(data)
            if self.cell_chars > self.limits.max_cell_chars:
                raise SheetError(cell_too_long(self.name, self.row, self.limits))


def cell_too_long(name: str, row: int | str, limits: SheetLimits) -> str:
    where = f"row {row} has a cell" if row != "?" else "the workbook has a cell"
    return (
        f"{name}: {where} longer than {limits.max_cell_chars:,} characters "
        "(DONORFLOW_IMPORT_MAX_CELL_CHARS); nothing was imported"
    )


def too_many_rows(name: str, limits: SheetLimits) -> str:
    return (
        f"{name}: more than {limits.max_rows:,} rows (DONORFLOW_IMPORT_MAX_ROWS); split the sheet, "
        "nothing was imported"
    )
