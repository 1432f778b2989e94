"""The daily reminder flow: one run in the Prefect harness queues what is due and returns counts only;
the deployment runs at 09:00 Asia/Shanghai (prefect.yaml)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from prefect.client.schemas.objects import State
from sqlmodel import Session, select

from flows.reminders import configure_reminders, daily_reminders
from models.outreach import Outbox
from models.reminders import ReminderConfig, RunResult, run
from tests.integration.reminders.support import donated_case

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def test_the_flow_queues_the_day_s_follow_ups_and_returns_only_counts(wired: Session) -> None:
    case = donated_case(wired, date(2026, 3, 1))  # day 2 is due on 3 March
    engine = wired.get_bind()
    days: list[date] = []

    def runner(day: date) -> RunResult:
        days.append(day)
        return run(lambda: Session(engine), day, ReminderConfig())

    configure_reminders(runner)
    state: State[dict[str, dict[str, int]]] = daily_reminders(day="2026-03-03", return_state=True)
    assert state.is_completed()
    assert state.result() == {"enqueued": {"follow_up": 1}, "tasks": {}, "missed": {}}
    assert days == [date(2026, 3, 3)]
    [key] = wired.exec(select(Outbox.idempotency_key).where(Outbox.template_key == "follow_up")).all()
    assert key == f"reminder:follow_up:{case.id}:day_2"
    again: State[dict[str, dict[str, int]]] = daily_reminders(day="2026-03-03", return_state=True)
    assert again.result() == {"enqueued": {}, "tasks": {}, "missed": {}}


def test_the_reminders_run_daily_at_nine_in_shanghai_time() -> None:
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    [entry] = [d for d in spec["deployments"] if d["name"] == "daily-reminders"]
    assert entry["entrypoint"] == "donorflow/deployments.py:daily_reminders"
    assert entry["schedules"] == [{"cron": "0 9 * * *", "timezone": "Asia/Shanghai"}]
    assert entry["work_pool"]["name"] == "donorflow-process"
    assert daily_reminders.name == "daily-reminders"
