"""Sign-up import: validate every row, dedupe on the salted ID hash, upsert members in batches.

Each batch is one transaction, so a crash (even kill -9) loses at most the batch in flight, and a rerun
finds the committed members by their ID hash: nothing is created twice, nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from sqlmodel import Session

from models.core import NotFoundError, utcnow
from models.intake.batches import run_in_batches
from models.intake.policy import ImportPolicy
from models.intake.report import ImportReport
from models.intake.sheet import read_sheet
from models.intake.signup_batch import SignupBatchWriter, SignupOutcome
from models.intake.validation import RowRejection, SignupRecord, validate_row
from models.registry import RecruitmentEvent

__all__ = ["import_records", "import_signups"]

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
    """Upsert validated sign-ups in batches (run_in_batches: one transaction per batch, retried on a race)."""
    report = report if report is not None else ImportReport()

    def write(batch: Sequence[SignupRecord]) -> SignupOutcome:
        return SignupBatchWriter(session, policy, event, actor).write(batch)

    def committed(outcome: SignupOutcome) -> None:
        report.accepted.extend(outcome.accepted)
        report.rejected.extend(outcome.rejected)

    run_in_batches(
        session=session,
        rows=records,
        batch_size=policy.batch_size,
        write_batch=write,
        committed=committed,
        progress=progress,
    )
    return report
