"""Daily reports in the Prefect UI: the funnel, and the cases waiting past their deadline."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger

from flows.runtime import current_run_id, run_link, session
from models.cases import OverdueCase, alert_case_overdue, funnel_counts, list_overdue
from models.core import utcnow

__all__ = ["flag_overdue", "funnel_report"]


@flow(name="funnel-report", flow_run_name="funnel-report-{start}-{end}", persist_result=True)
def funnel_report(start: date, end: date) -> dict[str, int]:
    """The stem-cell funnel for a period (drives → registered → screenings → … → donations).

    Args:
        start: 起始日（上海时间）。 First day (Asia/Shanghai).
        end: 截止日（含当天）。 Last day, inclusive.
    """
    with session() as db_session:
        counts = funnel_counts(session=db_session, start=start, end=end)
    rates = counts.conversion()
    table = [
        {"stage": key, "count": value, "of previous": f"{rates[key]:.1%}" if rates.get(key) else ""}
        for key, value in counts.model_dump().items()
    ]
    create_table_artifact(table, key="funnel", description=f"Stem-cell funnel {start} – {end}")
    return counts.model_dump()


@flow(name="flag-overdue", flow_run_name="flag-overdue", persist_result=True)
def flag_overdue() -> int:
    """Cases whose stage waited past its deadline: listed for the coordinator, never silently dropped,
    and each alerted to the coordinators once per stage and deadline (a second run alerts no one again).

    The reminder engine (daily-reminders, models.reminders) is the source of truth for idle cases: it
    opens their coordinator tasks with per-stage limits (DONORFLOW_STAGE_LIMITS) and sends the same
    alert under the same key, so a case is alerted once whichever runs first. This keeps its table."""
    now = utcnow()
    with session() as db_session:
        cases = list_overdue(session=db_session, now=now)
        alerted = sum(
            alert_case_overdue(session=db_session, case=case, link=_overdue_link(case)) is not None
            for case in cases
        )
    rows = [case.as_row() for case in cases]
    create_table_artifact(
        rows or [{"case_id": "", "member": "", "stage": "none overdue", "due": ""}],
        key="overdue-cases",
        description="Cases past their stage deadline",
    )
    if rows:
        get_run_logger().warning(
            "%d cases are overdue (%d newly alerted); see the overdue-cases artifact", len(rows), alerted
        )
    return len(rows)


def _overdue_link(case: OverdueCase) -> str:
    """The stage run holding the case (where its form waits), else this report's run (its table)."""
    holder = case.live_run_id
    if holder is not None and _is_run_id(holder):
        return run_link(holder)
    return run_link(current_run_id() or "")


def _is_run_id(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False  # "local-<flow>": a run outside Prefect has no page
    return True
