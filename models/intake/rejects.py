"""The rejects file: rejected rows written back as CSV for correction, safe to open in Excel."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from models.core import SheetError

__all__ = ["check_rejects_path", "safe_cell", "write_rejects_csv"]


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
