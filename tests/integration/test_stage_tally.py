"""The audit log's tallies (models/core/tally.py, migration 0012) against a recount of the log in Python,
on both databases: whatever writes audit rows (ORM, bulk insert, writers at once), the tallies hold the
same numbers, and the funnel's queries read from them give what the log itself gives."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from donorflow.bootstrap import alembic_config
from models.cases import dropouts, stage_durations
from models.cases.funnel import event_counts
from models.core import (
    SHANGHAI,
    BusyError,
    StageDayCount,
    StageEvent,
    StageStayCount,
    audit_values,
    make_engine,
    transaction,
)
from tests.databases import BACKENDS, fresh_database
from tests.factories import add_donor

_STAGES = ["screened", "remobilising", "high_res_typing", "exam", "donation", "follow_up"]
_REASONS = ["unreachable", "declined: 搬家了 moved away", "medical_deferral", "patient_cancelled", None]
_FROM = datetime(2020, 12, 20, tzinfo=UTC)


def _random_rows(rng: random.Random, donor_id: int, count: int) -> list[dict[str, Any]]:
    """Audit rows over 14 months, many of them around Shanghai's midnight (16:00 UTC)."""
    rows = []
    for _ in range(count):
        at = _FROM + timedelta(days=rng.randrange(430), hours=rng.choice([15, 16, 17, rng.random() * 24]))
        at += timedelta(minutes=rng.choice([-1, 0, 1]) * rng.random() * 30)
        if rng.random() < 0.15:
            rows.append(
                audit_values(entity="donor", donor_id=donor_id, to_state="registered", at=at, actor="t")
            )
            continue
        stage = rng.randrange(len(_STAGES))
        first = rng.random() < 0.2
        closed = not first and rng.random() < 0.3
        since = None if first else at - timedelta(days=rng.expovariate(1 / 9))
        rows.append(
            audit_values(
                entity="case",
                donor_id=donor_id,
                from_state=None if first else _STAGES[stage],
                to_state="screened" if first else "closed" if closed else _STAGES[min(stage + 1, 5)],
                reason=rng.choice(_REASONS) if closed else None,
                at=at,
                actor="t",
                from_state_since=since,
            )
        )
    return rows


def _recount(engine: Engine) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """The two tallies worked out in Python from every audit row (zoneinfo days, the reason's first word)."""
    days: Counter[tuple[Any, ...]] = Counter()
    stays: Counter[tuple[Any, ...]] = Counter()
    with Session(engine) as session:
        for event in session.exec(select(StageEvent)).all():
            local = event.at.astimezone(SHANGHAI).date()
            reason = ""
            if event.entity == "case" and event.to_state == "closed" and event.reason:
                reason = event.reason.split(":")[0][:20]
            days[(local, event.entity, event.to_state, event.from_state or "", reason)] += 1
            if event.entity == "case" and event.from_state and event.stage_days is not None:
                stays[(local.replace(day=1), event.from_state, round(event.stage_days * 10))] += 1
    return days, stays


def _tallies(engine: Engine) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    with Session(engine) as session:
        days = Counter(
            {
                (r.day, r.entity, r.to_state, r.from_state, r.reason): r.n
                for r in session.exec(select(StageDayCount)).all()
            }
        )
        stays = Counter(
            {(r.month, r.stage, r.tenths): r.n for r in session.exec(select(StageStayCount)).all()}
        )
    return days, stays


def _write_in_every_way(engine: Engine, session: Session, rng: random.Random) -> None:
    donor = add_donor(session)
    assert donor.id is not None
    with engine.begin() as connection:  # bulk, as the sign-up and ATLAS imports write
        connection.execute(insert(StageEvent), _random_rows(rng, donor.id, 600))
    for values in _random_rows(rng, donor.id, 40):  # one ORM row a transaction, as a coordinator's move
        session.add(StageEvent(**values))
        session.commit()
    session.add_all([StageEvent(**values) for values in _random_rows(rng, donor.id, 200)])
    session.commit()


def test_the_tallies_hold_what_a_recount_of_the_audit_log_gives(engine: Engine, session: Session) -> None:
    _write_in_every_way(engine, session, random.Random(7))
    days, stays = _tallies(engine)
    assert sum(days.values()) == 840  # every row counted once
    assert (days, stays) == _recount(engine)


def test_the_funnel_queries_over_the_tallies_agree_with_the_log_for_any_period(
    engine: Engine, session: Session
) -> None:
    rng = random.Random(11)
    _write_in_every_way(engine, session, rng)
    with Session(engine) as reader:
        events = list(reader.exec(select(StageEvent)).all())
    periods = [(date(2021, 1, 1), date(2021, 12, 31)), (date(2020, 12, 31), date(2021, 1, 1))]
    for _ in range(25):  # partial first and last months, single days, whole months, across the year
        low = date(2020, 12, 15) + timedelta(days=rng.randrange(430))
        periods.append((low, low + timedelta(days=rng.choice([0, 1, 17, 31, 45, 200]))))
    for start, end in periods:
        inside = [e for e in events if start <= e.at.astimezone(SHANGHAI).date() <= end]
        expected_counts = Counter((e.entity, e.to_state) for e in inside)
        assert event_counts(session, start, end) == expected_counts, (start, end)
        closed = Counter(e.from_state for e in inside if e.entity == "case" and e.to_state == "closed")
        found = {row.stage: row.total for row in dropouts(session=session, start=start, end=end)}
        assert found == {stage: closed.get(stage, 0) for stage in _STAGES}, (start, end)
        for row in stage_durations(session=session, start=start, end=end):
            days = sorted(
                round(e.stage_days * 10) / 10
                for e in inside
                if e.entity == "case" and e.from_state == row.stage and e.stage_days is not None
            )
            assert row.stays == len(days), (start, end, row.stage)
            if days:  # nearest rank: the values at ⌈n/2⌉ and ⌈9n/10⌉
                assert (row.median_days, row.p90_days) == (
                    days[-(-len(days) // 2) - 1],
                    days[-(-len(days) * 9 // 10) - 1],
                ), (start, end, row.stage)


def test_writers_adding_to_the_same_tally_rows_at_once_lose_no_count(
    engine: Engine, session: Session
) -> None:
    """Eight writers, each adding the same day's rows in its own transactions (on PostgreSQL they take the
    same tally rows' locks in turn): every row is counted."""
    donor_id = add_donor(session).id
    assert donor_id is not None
    at = datetime(2021, 6, 1, 2, tzinfo=UTC)
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        rows = [
            audit_values(
                entity="case",
                donor_id=donor_id,
                from_state="remobilising",
                to_state="closed" if k % 2 else "high_res_typing",
                reason="declined" if k % 2 else None,
                at=at,
                actor=f"w{n}",
                from_state_since=at - timedelta(days=3),
            )
            for k in range(10)
        ]
        try:
            start.wait()
            for _ in range(5):
                with engine.begin() as connection:
                    connection.execute(insert(StageEvent), rows)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    days, stays = _tallies(engine)
    local = date(2021, 6, 1)
    assert days[(local, "case", "closed", "remobilising", "declined")] == 200
    assert days[(local, "case", "high_res_typing", "remobilising", "")] == 200
    assert stays == Counter({(date(2021, 6, 1), "remobilising", 30): 400})
    assert (days, stays) == _recount(engine)


@pytest.mark.parametrize("backend", BACKENDS)
def test_0012_sums_the_rows_written_before_it_and_the_trigger_adds_the_rest(
    backend: str, tmp_path: Path
) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        config = alembic_config(url)
        rng = random.Random(3)
        with Session(engine) as session:
            donor = add_donor(session)
            assert donor.id is not None
            command.downgrade(config, "0011")  # no tallies, no trigger: rows as an older install wrote them
            with engine.begin() as connection:
                connection.execute(insert(StageEvent), _random_rows(rng, donor.id, 300))
            command.upgrade(config, "head")
            with engine.begin() as connection:
                connection.execute(insert(StageEvent), _random_rows(rng, donor.id, 100))
        days, stays = _tallies(engine)
        recount = _recount(engine)
        engine.dispose()
    assert sum(days.values()) == 400
    assert (days, stays) == recount


def test_two_writers_crossing_on_the_tally_rows_get_one_busy_error_and_lose_nothing(
    engine: Engine, session: Session
) -> None:
    """PostgreSQL: each writer adds a row to day A, then (once both have) to day B — the other in the
    opposite order. The server breaks the deadlock by rolling one back: BusyError, nothing of it kept; the
    other commits. SQLite cannot get there (one writer at a time: the second waits for the first)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no two transactions hold tally rows at once")
    donor_id = add_donor(session).id
    assert donor_id is not None
    day_a, day_b = datetime(2021, 6, 1, 2, tzinfo=UTC), datetime(2021, 6, 2, 2, tzinfo=UTC)
    both_wrote_once = threading.Barrier(2)
    outcomes: list[str] = []

    def writer(first: datetime, second: datetime) -> None:
        with Session(engine) as own:
            try:
                with transaction(own):
                    for n, at in enumerate((first, second)):
                        values = audit_values(
                            entity="donor", donor_id=donor_id, to_state="registered", at=at, actor="t"
                        )
                        own.add(StageEvent(**values))
                        own.flush()
                        if n == 0:
                            both_wrote_once.wait(timeout=30)
                outcomes.append("committed")
            except BusyError as exc:
                assert "重试" in str(exc) and "try again" in str(exc)
                outcomes.append("busy")

    threads = [
        threading.Thread(target=writer, args=(day_a, day_b)),
        threading.Thread(target=writer, args=(day_b, day_a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["busy", "committed"]
    days, _stays = _tallies(engine)
    assert sum(days.values()) == 2
    assert (days, _stays) == _recount(engine)
