"""The inbox folder: which sheets may be imported from it, and which were imported already (by content),
so each sheet is imported once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Field, Session, SQLModel

from models.core import SheetError, UtcDateTime, transaction, utcnow
from models.intake.import_summary import ImportSummary
from models.intake.sheet_files import SheetLimits, check_regular_file

__all__ = ["ImportedFile", "already_imported", "remember_import", "sheet_in_inbox"]


class ImportedFile(SQLModel, table=True):
    """A sheet the inbox watcher imported, by content hash, so a file dropped twice is imported once."""

    __tablename__ = "imported_file"

    sha256: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


def sheet_in_inbox(path: str, *, inbox: Path, limits: SheetLimits) -> Path:
    """The sheet a data manager named, as its real path inside the inbox; SheetError otherwise.

    A relative path is taken inside the inbox first (then from the working folder). Links are resolved
    before the check, so a link in the inbox to a file elsewhere is refused; type and size are checked with
    stat(), so a FIFO, device or folder is refused without being opened and nothing is read.
    """
    root = inbox.resolve()
    given = Path(path)
    candidates = [given] if given.is_absolute() else [root / given, given]
    candidate = next((c for c in candidates if c.exists() or c.is_symlink()), candidates[0])
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise SheetError(f"file not found: {given.name}") from None
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise SheetError(f"cannot read {given.name}: {exc}") from None
    if not resolved.is_relative_to(root):
        raise SheetError(f"{given.name} is not in the import folder {root}; copy the sheet there first")
    check_regular_file(resolved, limits)
    return resolved


def already_imported(*, session: Session, sha256: str) -> bool:
    return session.get(ImportedFile, sha256) is not None


def remember_import(*, session: Session, sha256: str, name: str, report: ImportSummary) -> None:
    with transaction(session):
        session.merge(
            ImportedFile(
                sha256=sha256,
                name=name[:255],
                created=report.created,
                updated=report.updated,
                unchanged=report.unchanged,
                rejected=len(report.rejected),
            )
        )
