"""Daily reports in the Prefect UI: the funnel, and the cases waiting past their deadline."""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger

from flows.runtime import session
from models.cases import funnel_counts, overdue_cases
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
    """Cases whose stage waited past its deadline: listed for the coordinator, never silently dropped."""
    with session() as db_session:
        rows = overdue_cases(session=db_session, now=utcnow())
    create_table_artifact(
        rows or [{"case_id": "", "member": "", "stage": "none overdue", "due": ""}],
        key="overdue-cases",
        description="Cases past their stage deadline",
    )
    if rows:
        get_run_logger().warning("%d cases are overdue; see the overdue-cases artifact", len(rows))
    return len(rows)
