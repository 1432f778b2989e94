"""`donorflow reminders due | run` and `donorflow followups list`: the reminder engine from the command
line (issue 11). Dates are Asia/Shanghai days, today by default; a bad date is a zh-CN error, exit 2.
They reuse the main CLI's session and error handling, imported when a command runs.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from donorflow import bootstrap
from donorflow.cli_followups import followups_app  # `followups list` joins `spear-report`
from models.core import local_date, utcnow
from models.reminders import list_follow_ups

__all__ = ["followups_app", "reminders_app"]

reminders_app = typer.Typer(help="提醒 Scheduled reminders (daily engine).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
DateOption = Annotated[
    str | None, typer.Option("--date", help="日期 YYYY-MM-DD (Asia/Shanghai); default today.")
]

_LABELS = {"enqueued": "已排队消息 enqueued", "tasks": "协调员任务 tasks", "missed": "已错过 missed"}


def _day(value: str | None, option: str) -> date:
    from donorflow.cli import _fail

    if value is None:
        return local_date(utcnow())
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} 日期格式错误：{value!r}，应为 YYYY-MM-DD（例如 2026-03-01）", 2)


def _print_counts(counts: dict[str, dict[str, int]], day: date, title: str) -> None:
    from donorflow.cli import out

    table = Table("", "kind", "n", title=f"{title} {day.isoformat()}")
    for what, by_kind in counts.items():
        for kind, n in by_kind.items():
            table.add_row(_LABELS[what], kind, str(n))
    if not table.rows:
        out.print(f"{title} {day.isoformat()}: 今日无到期提醒 nothing due")
        return
    out.print(table)


@reminders_app.command("due")
def reminders_due(date_: DateOption = None, json_: JsonFlag = False) -> None:
    """试运行：列出当日将发送、开启或记为错过的提醒（不写入）。 Dry run: what a run would do, by kind."""
    from donorflow.cli import _print_json, _session

    day = _day(date_, "--date")
    with _session():
        planned = bootstrap.plan_reminders(day)
    if json_:
        _print_json({"date": day.isoformat(), **planned.as_dict(), "items": planned.items})
        return
    _print_counts(planned.as_dict(), day, "试运行 dry run")


@reminders_app.command("run")
def reminders_run(date_: DateOption = None, json_: JsonFlag = False) -> None:
    """执行当日提醒（重复执行不会重复发送）。 Run the day's reminders (a second run sends nothing again)."""
    from donorflow.cli import _print_json, _session

    day = _day(date_, "--date")
    with _session():
        result = bootstrap.run_reminders(day)
    if json_:
        _print_json(result.as_dict())
        return
    _print_counts(result.as_dict(), day, "已执行 done")


@followups_app.command("list")
def followups_list(
    due_before: Annotated[
        str | None, typer.Option("--due-before", help="只列出此日期之前到期的 due before YYYY-MM-DD.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """随访列表（病例、志愿者编号、节点、到期日、状态）。 Follow-ups: case, member, kind, due date, status."""
    from donorflow.cli import _print_json, _session, out

    before = _day(due_before, "--due-before") if due_before is not None else None
    with _session() as session:
        items = list_follow_ups(session=session, due_before=before)
    if json_:
        _print_json([item.as_dict() for item in items])
        return
    table = Table("case_id", "member_code", "kind", "due_date", "status", title="随访 Follow-ups")
    for item in items:
        row = item.as_dict()
        table.add_row(row["case_id"], row["member_code"], row["kind"], row["due_date"], row["status"])
    out.print(table if items else "没有随访 no follow-ups")
