"""A day's run twice enqueues nothing the second time (SQLite and PostgreSQL); two runs at once on
PostgreSQL enqueue each reminder once (the ledger's unique key, claimed with ON CONFLICT DO NOTHING)."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.outreach import Outbox
from models.reminders import CoordinatorTask, Reminder, RunResult
from tests.integration.reminders.support import CONFIG, donated_case, run_day

DAY = date(2026, 3, 9)


def _busy_day(session: Session) -> None:
    """Several things due on DAY: the day-2 (4 March) and week-1 (9 March) follow-ups of six members who
    donated on 2 March, within the 7-day window; and the day-2 and week-1 ones of six who donated in
    February, older than the window: missed."""
    for n in range(6):
        donated_case(session, date(2026, 3, 2))
        donated_case(session, date(2026, 2, 20) - timedelta(days=n))


def _counts(session: Session) -> tuple[int, int, int]:
    return (
        session.exec(select(func.count()).select_from(Outbox)).one(),
        session.exec(select(func.count()).select_from(CoordinatorTask)).one(),
        session.exec(select(func.count()).select_from(Reminder)).one(),
    )


def test_a_second_run_of_the_same_day_enqueues_nothing(session: Session, engine: Engine) -> None:
    _busy_day(session)
    first = run_day(engine, DAY).as_dict()
    assert first["enqueued"]["follow_up"] == 12
    assert first["missed"]["follow_up"] == 12 and first["tasks"]["missed_reminder"] == 12
    after_first = _counts(session)
    assert run_day(engine, DAY).as_dict() == {"enqueued": {}, "tasks": {}, "missed": {}}
    assert _counts(session) == after_first


def test_two_runs_at_once_enqueue_each_reminder_once(session: Session, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two runs cannot overlap there")
    _busy_day(session)
    config = CONFIG.__class__(batch_size=3)  # several transactions per run: the runs interleave
    barrier = threading.Barrier(2)
    results: list[RunResult] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(run_day(engine, DAY, config))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    total = sum(result.tally.enqueued["follow_up"] for result in results)
    missed = sum(result.tally.missed["follow_up"] for result in results)
    assert (total, missed) == (12, 12)
    keys = session.exec(select(Outbox.idempotency_key).where(Outbox.template_key == "follow_up")).all()
    assert len(keys) == len(set(keys)) == 12
    tasks = session.exec(select(CoordinatorTask.key)).all()
    assert len(tasks) == len(set(tasks)) == 12
