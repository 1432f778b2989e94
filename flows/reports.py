"""Reports in the Prefect UI: the funnel (weekly, and at New Year), and the cases past their deadline."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger

from flows.runtime import current_run_id, run_link, session
from models.cases import OverdueCase, PeriodFunnel, alert_case_overdue, list_overdue, period_funnel
from models.core import ValidationError, local_date, utcnow

__all__ = ["ReportPeriod", "flag_overdue", "funnel_report", "report_period"]


ReportPeriod = Literal["custom", "year_to_date", "previous_year"]


def report_period(
    period: ReportPeriod, start: date | None, end: date | None, today: date
) -> tuple[date, date]:
    """The days a report covers: `start`–`end` as given (custom), this year up to `today` (the weekly
    schedule), or the whole of last year (the New Year's run: the closed year, every event in)."""
    if period == "year_to_date":
        return date(today.year, 1, 1), today
    if period == "previous_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    if start is None or end is None:
        raise ValidationError("a custom period needs start and end 自定义期间需要起止日期")
    return start, end


@flow(name="funnel-report", flow_run_name="funnel-report-{period}", persist_result=True)
def funnel_report(
    start: date | None = None, end: date | None = None, period: ReportPeriod = "custom"
) -> dict[str, int]:
    """The stem-cell funnel for a period (drives → registered → screenings → … → donations), published as a
    table (key `funnel`) and a markdown report (key `funnel-report`): the same keys every run, so the
    Artifacts page keeps the history of each and shows the latest first.

    Args:
        start: 起始日（上海时间；自定义期间）。 First day (Asia/Shanghai; custom period).
        end: 截止日（含当天）。 Last day, inclusive.
        period: custom = start–end；year_to_date = 今年至今（每周计划）；previous_year = 上一整年（元旦）。
    """
    first, last = report_period(period, start, end, local_date(utcnow()))
    with session() as db_session:
        funnel = period_funnel(session=db_session, start=first, end=last)
    counts, rates = funnel.counts, funnel.conversion
    table = [
        {"stage": key, "count": value, "of previous": f"{rates[key]:.1%}" if rates.get(key) else ""}
        for key, value in counts.model_dump().items()
    ]
    create_table_artifact(table, key="funnel", description=f"Stem-cell funnel {first} – {last}")
    create_markdown_artifact(
        _markdown(funnel, first, last),
        key="funnel-report",
        description=f"漏斗报表 Funnel report {first} – {last}",
    )
    return counts.model_dump()


_LABELS = {
    "recruitment_events": "招募活动 Recruitment drives",
    "registered": "新入库志愿者 New registry members",
    "initial_screenings": "初筛 Initial screenings",
    "remobilisations": "再动员 Re-mobilisations",
    "high_res_samples": "高分辨采样 High-resolution samples",
    "pre_donation_exams": "捐献前体检 Pre-donation exams",
    "donations": "捐献 Donations (cleared)",
}


def _markdown(funnel: PeriodFunnel, first: date, last: date) -> str:
    """The report as markdown: counts, conversions on their own denominators, completed collections."""
    lines = [
        f"# 造血干细胞漏斗 Stem-cell funnel, {first} – {last}",
        "",
        "| 阶段 Stage | 人次 Count | 占上一阶段 Of previous |",
        "| --- | ---: | ---: |",
    ]
    for key, value in funnel.counts.model_dump().items():
        rate = funnel.conversion.get(key)
        lines.append(f"| {_LABELS[key]} | {value:,} | {'' if rate is None else f'{rate:.1%}'} |")
    collected = funnel.collected_of_donations
    lines += [
        "",
        f"完成采集 Completed collections: **{funnel.completed_collections:,}**"
        + ("" if collected is None else f" ({collected:.1%} of cleared donations)"),
        "",
        "转化率只在病例阶段之间计算；初筛检索整个库，不是本期入库人数的比例（docs/FUNNEL.md）。"
        " Conversion is shown between case stages only: screenings search the whole registry, so they are"
        " not a share of the period's registrations (docs/FUNNEL.md).",
    ]
    return "\n".join(lines)


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
