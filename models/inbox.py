"""Which inbox files were imported already (by content), so each sheet is imported once."""

from __future__ import annotations

from sqlmodel import Session

from models.db import transaction
from models.import_summary import ImportSummary
from models.registry import ImportedFile

__all__ = ["already_imported", "remember_import"]


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
