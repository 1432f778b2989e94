"""Sign-up sheets (and ATLAS donor files) into the registry: one file on demand, or whatever lands in the
inbox folder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import cast
from uuid import UUID

from prefect import flow, task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.logging import get_run_logger

from flows.runtime import config, current_run_id, session
from models.core import SheetError
from models.intake import (
    ImportSummary,
    already_imported,
    import_file,
    in_inbox_format,
    open_regular_file,
    remember_import,
    sheet_in_inbox,
)

__all__ = ["import_signups_flow", "watch_inbox"]


# Not persisted, and only counts, row numbers and rule names come back: Prefect keeps task results under
# its home, where a withdrawal never reaches (README: personal data and Prefect).
@task(name="import-sheet", task_run_name="import-sheet-{path.name}", persist_result=False)
def import_sheet(path: Path, event_id: int | None, actor: str) -> ImportSummary:
    """The whole file in one task: the service picks the importer (sheet or ATLAS) and batches the rows
    (thousands per transaction)."""
    # Called from sync code, Prefect's sync_compatible helpers return the value, not a coroutine.
    progress = cast(UUID, create_progress_artifact(0.0, description=f"Importing {path.name}"))
    done = 0
    total = max(_count_lines(path), 1)

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        update_progress_artifact(progress, min(100.0, 100.0 * done / total))

    with session() as db_session:
        report = import_file(
            session=db_session,
            path=path,
            policy=config().import_policy,
            event_id=event_id,
            actor=actor,
            progress=advance,
            load_reference=config().hla_reference,
        )
    update_progress_artifact(progress, 100.0)
    return ImportSummary.of(report)


def _count_lines(path: Path) -> int:
    if path.suffix.lower() != ".csv":
        return 0
    with open_regular_file(path, config().import_policy.limits) as handle:  # never a FIFO or /dev/zero
        return max(sum(1 for _ in handle) - 1, 0)


def _inbox_sheet(path: str) -> Path:
    """Only a regular file inside the inbox, within the size limit: checked before anything reads it."""
    settings = config()
    return sheet_in_inbox(path, inbox=settings.inbox_dir, limits=settings.import_policy.limits)


def _summarise(path: Path, report: ImportSummary) -> None:
    """A table a data manager can act on: counts, then each rejected row and why (no personal data)."""
    rows = [
        {
            "row": "",
            "result": f"created {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}, rejected {len(report.rejected)}",
        }
    ]
    rows += [{"row": str(r.row), "result": "; ".join(r.errors)} for r in report.rejected]
    create_table_artifact(rows, key="signup-import", description=f"Sign-up import of {path.name}")


@flow(name="import-signups", flow_run_name="import-signups-{path}", persist_result=True)
def import_signups_flow(path: str, event_id: int = 0, coordinator: str = "data-manager") -> dict[str, int]:
    """Import one drive's sign-up sheet (.csv or .xlsx), or an ATLAS donor file (.json); safe to run again.

    Args:
        path: 收件文件夹（var/inbox/）中的表格文件名，如 drive-2021-06-14.xlsx，或其完整路径；
            收件文件夹以外的文件一律拒绝。 The sheet's name in the inbox folder (var/inbox/), e.g.
            drive-2021-06-14.xlsx, or its full path there; files outside the inbox are refused.
        event_id: 招募活动编号（没有则填 0；ATLAS 文件不指定活动）。
            The recruitment drive's id (0 if none; an ATLAS file names none).
        coordinator: 协调员：您的姓名（记入审计日志）。 Your name (goes into the audit log).
    """
    sheet = _inbox_sheet(path)
    report = import_sheet(sheet, event_id or None, f"coordinator:{coordinator}")
    _summarise(sheet, report)
    return report.counts()


@flow(name="watch-inbox", flow_run_name="watch-inbox", persist_result=True)
def watch_inbox() -> dict[str, int]:
    """Import each new sheet or ATLAS file dropped into the inbox folder, once (a file seen before is
    skipped)."""
    logger = get_run_logger()
    inbox = config().inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    imported = skipped = 0
    for entry in sorted(p for p in inbox.iterdir() if in_inbox_format(p)):
        try:
            sheet = _inbox_sheet(str(entry))
        except SheetError as exc:  # a FIFO, a link out of the inbox, an oversized file: never read
            logger.warning("skipped %s", exc)
            skipped += 1
            continue
        digest = hashlib.sha256(sheet.read_bytes()).hexdigest()
        with session() as db_session:
            if already_imported(session=db_session, sha256=digest):
                skipped += 1
                continue
        report = import_sheet(sheet, None, f"inbox:{current_run_id() or 'local'}")
        _summarise(sheet, report)
        with session() as db_session:
            remember_import(session=db_session, sha256=digest, name=sheet.name, report=report)
        imported += 1
        logger.info("imported %s", sheet.name)
    return {"imported": imported, "skipped": skipped}
