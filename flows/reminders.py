"""The daily reminder run (issue 11, DESIGN.md §6): at 09:00 Asia/Shanghai, what falls due today is queued
through the outbox (the dispatcher sends it) and the coordinators' tasks are opened.

The work is models.reminders (`run`); the composition root (donorflow/deployments.py) hands this module
the one call that runs it with the installation's database and settings. Its result, logs and artifact are
counts by kind only: no member, no code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger

from models.core import local_date, utcnow
from models.reminders import RunResult

__all__ = ["ReminderRunner", "configure_reminders", "daily_reminders"]

ReminderRunner = Callable[[date], RunResult]

_runner: ReminderRunner | None = None


def configure_reminders(runner: ReminderRunner) -> None:
    global _runner
    _runner = runner


@flow(name="daily-reminders", flow_run_name="daily-reminders-{day}", persist_result=False)
def daily_reminders(day: str | None = None) -> dict[str, dict[str, int]]:
    """每日提醒 — queue today's follow-up questionnaires, availability checks, retirements, appointment
    reminders and idle-case tasks (each once, however often it runs).

    Args:
        day: 日期 YYYY-MM-DD（上海时间），留空为今天。 The day to run for (Asia/Shanghai); empty: today.
    """
    if _runner is None:
        raise RuntimeError("the reminder engine is not wired: run the flow through donorflow/deployments.py")
    on = date.fromisoformat(day) if day else local_date(utcnow())
    counts = _runner(on).as_dict()
    rows = [
        {"what": what, "kind": kind, "count": n}
        for what, by_kind in counts.items()
        for kind, n in by_kind.items()
    ]
    create_table_artifact(
        rows or [{"what": "nothing due", "kind": "", "count": 0}],
        key="daily-reminders",
        description=f"Reminders dealt with on {on.isoformat()} (counts by kind)",
    )
    get_run_logger().info("reminders on %s: %s", on.isoformat(), counts)
    return counts
