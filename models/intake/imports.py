"""Which importer a file goes to: an ATLAS donor file (.json) or a sign-up sheet (.csv, .xlsx)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

import hla
from models.core import ValidationError
from models.intake.atlas import import_atlas, is_atlas_file
from models.intake.policy import ImportPolicy
from models.intake.report import ImportReport
from models.intake.signup import import_signups

__all__ = ["INBOX_SUFFIXES", "import_file", "in_inbox_format"]

INBOX_SUFFIXES = (".csv", ".xlsx", ".json")
"""What the inbox watcher picks up: sign-up sheets and ATLAS donor files (not .txt/.tsv notes)."""


def in_inbox_format(path: Path) -> bool:
    """Whether the inbox watcher imports this file (by extension; anything else in the folder stays)."""
    return path.suffix.lower() in INBOX_SUFFIXES


def import_file(
    *,
    session: Session,
    path: Path,
    policy: ImportPolicy,
    event_id: int | None = None,
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
    load_reference: Callable[[], hla.Reference | None] | None = None,
) -> ImportReport:
    """Import a sign-up sheet or an ATLAS donor file, chosen by extension, as Excel is.

    A sheet may name the drive its people signed up at (`event_id`); an ATLAS file names none, so an
    `event_id` with it is a ValidationError. `load_reference` gives the IMGT/HLA and MAC tables; it is
    called for an ATLAS file only (a sheet's typings are checked without them).
    A file that is neither is refused by the sheet reader (SheetError), before anything is read.
    """
    if is_atlas_file(path):
        if event_id is not None:
            raise ValidationError("an event id is for sign-up sheets; an ATLAS donor file names no drive")
        reference = load_reference() if load_reference else None
        return import_atlas(
            session=session, path=path, policy=policy, actor=actor, progress=progress, reference=reference
        )
    return import_signups(
        session=session, path=path, policy=policy, event_id=event_id, actor=actor, progress=progress
    )
