"""Sign-up import: validate every row, dedupe on the salted ID hash, upsert members in batches.

Each batch is one transaction, so a crash (even kill -9) loses at most the batch in flight, and a rerun
finds the committed members by their ID hash: nothing is created twice, nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.core import ConflictError, NotFoundError, utcnow
from models.intake.policy import ImportPolicy
from models.intake.report import ImportReport
from models.intake.sheet import read_sheet
from models.intake.signup_batch import SignupBatchWriter, StaleMembers
from models.intake.validation import RowRejection, SignupRecord, validate_row
from models.registry import RecruitmentEvent

__all__ = ["import_records", "import_signups"]

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def import_signups(
    *,
    session: Session,
    path: Path,
    policy: ImportPolicy,
    event_id: int | None = None,
    actor: str = "import",
    progress: Progress | None = None,
) -> ImportReport:
    """Import one drive's sheet. Unusable files raise SheetError; bad rows are reported, good rows land."""
    sheet = read_sheet(path, policy.limits)
    event = session.get(RecruitmentEvent, event_id) if event_id is not None else None
    if event_id is not None and event is None:
        raise NotFoundError(f"recruitment event {event_id} does not exist")
    drive_date = event.held_on if event else None
    report = ImportReport(columns=list(sheet.columns))
    now = utcnow()  # one "now" for the whole file, so every row is judged alike

    def records() -> Iterator[SignupRecord]:
        for row, cells in sheet:
            report.cells[row] = cells
            result = validate_row(
                row, cells, drive_date=drive_date, min_age=policy.min_age, max_age=policy.max_age, now=now
            )
            if isinstance(result, RowRejection):
                report.rejected.append(result)
                if progress:
                    progress(1)
            else:
                yield result

    import_records(
        session=session,
        records=records(),
        policy=policy,
        event=event,
        actor=actor,
        report=report,
        progress=progress,
    )
    report.finish(path.name)
    return report


def import_records(
    *,
    session: Session,
    records: Iterable[SignupRecord],
    policy: ImportPolicy,
    event: RecruitmentEvent | None = None,
    actor: str = "import",
    report: ImportReport | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    report = report if report is not None else ImportReport()
    iterator = iter(records)
    while batch := list(islice(iterator, policy.batch_size)):
        _import_batch_with_retry(session, batch, policy, event, actor, report)
        if progress:
            progress(len(batch))
    return report


_ATTEMPTS = 3


def _import_batch_with_retry(
    session: Session,
    batch: Sequence[SignupRecord],
    policy: ImportPolicy,
    event: RecruitmentEvent | None,
    actor: str,
    report: ImportReport,
) -> None:
    # Between our read and our write, a concurrent import can win the unique ID hash, or a coordinator can
    # withdraw (or defer) a member: the conditional UPDATEs then miss and the batch rolls back. The retry
    # reads afresh and judges those rows again: a member who withdrew meanwhile is a rejected row, never
    # re-registered by an UPDATE written from the old read.
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            outcome = SignupBatchWriter(session, policy, event, actor).write(batch)
            session.commit()
        except (IntegrityError, StaleMembers) as exc:
            session.rollback()
            if attempt < _ATTEMPTS:
                # Never the IntegrityError's text: it carries the rows' values.
                why = str(exc) if isinstance(exc, StaleMembers) else "another import added the same person"
                log.info("batch of %d rows: %s; reading it again", len(batch), why)
                continue
            if isinstance(exc, StaleMembers):
                first, last = batch[0].row, batch[-1].row
                raise ConflictError(
                    f"rows {first}–{last}: {exc} on every try; the rows before them are imported, "
                    "run the import again for the rest"
                ) from exc
            raise
        report.accepted.extend(outcome.accepted)
        report.rejected.extend(outcome.rejected)
        log.debug("batch of %d rows committed", len(batch))
        return
