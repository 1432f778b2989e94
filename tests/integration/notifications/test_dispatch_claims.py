"""Claims and result recorders (models/outreach/claims.py) on both databases: due rows oldest first, a
lapsed claim taken over, and a late result of the worker that lost its claim ignored."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.core import local_date, transaction, utcnow
from models.outreach import (
    Outbox,
    claim_due,
    enqueue_balance_alert,
    mark_retry,
    mark_sent,
    mark_sent_many,
)
from tests.integration.notifications.dispatch_support import row_by_key, rows

LEASE = timedelta(seconds=60)


def _add(session: Session, key: str, due_in: timedelta) -> None:
    session.add(
        Outbox(
            recipient_ref="donor:1",
            template_key="donation_thanks",
            context={"code": "ZZ21-000001"},
            idempotency_key=key,
            next_attempt_at=utcnow() + due_in,
        )
    )


def test_a_claim_takes_due_rows_oldest_first_up_to_its_limit(session: Session) -> None:
    now = utcnow()
    with transaction(session):
        _add(session, "newer", -timedelta(minutes=1))
        _add(session, "oldest", -timedelta(minutes=3))
        _add(session, "older", -timedelta(minutes=2))
        _add(session, "later", timedelta(minutes=5))
    with transaction(session):
        first = claim_due(session=session, worker="a", now=now, limit=2, lease=LEASE)
    assert [row.idempotency_key for row in first] == ["oldest", "older"]
    assert all(row.status == "sending" and row.claimed_by == "a" for row in first)
    assert first[0].claimed_until == now + LEASE
    with transaction(session):
        second = claim_due(session=session, worker="b", now=now, limit=10, lease=LEASE)
        third = claim_due(session=session, worker="b", now=now, limit=10, lease=LEASE)
    assert [row.idempotency_key for row in second] == ["newer"] and third == []


def test_a_lapsed_claim_is_taken_over_and_the_first_workers_late_result_is_ignored(session: Session) -> None:
    now = utcnow()
    with transaction(session):
        _add(session, "m", -timedelta(seconds=1))
    with transaction(session):
        [row] = claim_due(session=session, worker="slow", now=now, limit=10, lease=LEASE)
        assert row.id is not None
        row_id = row.id
    with transaction(session):
        assert claim_due(session=session, worker="next", now=now + LEASE / 2, limit=10, lease=LEASE) == []
    with transaction(session):
        [again] = claim_due(session=session, worker="next", now=now + LEASE * 2, limit=10, lease=LEASE)
    assert again.id == row_id and again.claimed_by == "next"
    with transaction(session):
        late = mark_retry(
            session=session, row_id=row_id, worker="slow", error="timeout", next_attempt_at=now + LEASE * 9
        )
    assert late is False
    with transaction(session):
        assert mark_sent(
            session=session,
            row_id=row_id,
            worker="next",
            provider_message_id="gw-7",
            channel="sms",
            rendered="text",
            now=now + LEASE * 2,
        )
    stored = row_by_key(session, "m")
    assert (stored.status, stored.provider_message_id, stored.attempts, stored.claimed_by) == (
        "sent",
        "gw-7",
        0,
        "next",
    )
    with transaction(session):  # a result for a row no longer `sending` is ignored too
        assert not mark_sent(
            session=session,
            row_id=row_id,
            worker="next",
            provider_message_id="gw-8",
            channel="sms",
            rendered="text",
            now=now,
        )


def test_a_batch_of_deliveries_is_recorded_at_once_except_the_row_whose_claim_was_lost(
    session: Session,
) -> None:
    """mark_sent_many (one statement on PostgreSQL, an executemany on SQLite) writes each answered row
    still claimed by this worker, with its own provider id and audit copy, and says which it wrote."""
    now = utcnow()
    with transaction(session):
        for key in ("a", "b", "c"):
            _add(session, key, -timedelta(seconds=1))
    with transaction(session):
        claimed = claim_due(session=session, worker="w1", now=now, limit=10, lease=LEASE)
        ids = {row.idempotency_key: row.id for row in claimed}
    with transaction(session):  # "c" lapsed and went to another dispatcher, which is still sending it
        [taken] = claim_due(session=session, worker="w2", now=now + LEASE * 2, limit=1, lease=LEASE)
        assert taken.idempotency_key == "a"
    answered = [
        {"row_id": ids[key], "provider_message_id": f"gw-{key}", "channel": "sms", "rendered": f"text {key}",
         "now": now}
        for key in ("a", "b", "c")
    ]  # fmt: skip
    with transaction(session):
        written = mark_sent_many(session=session, worker="w1", sent=answered)
    assert written == {ids["b"], ids["c"]}
    for key in ("b", "c"):
        stored = row_by_key(session, key)
        assert (stored.status, stored.provider_message_id, stored.rendered, stored.channel) == (
            "sent",
            f"gw-{key}",
            f"text {key}",
            "sms",
        )
        assert stored.sent_at == now and stored.address_snapshot is None
    lost = row_by_key(session, "a")
    assert (lost.status, lost.claimed_by, lost.provider_message_id) == ("sending", "w2", None)
    with transaction(session):
        assert mark_sent_many(session=session, worker="w1", sent=[]) == set()


def test_two_dispatchers_meeting_an_empty_account_at_once_queue_one_balance_alert(
    session: Session, engine: Engine
) -> None:
    """PostgreSQL: the second insert of the day's alert waits for the first transaction, fails the
    unique key inside a savepoint, and the rest of its transaction (the message's retry) still commits."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the two cannot interleave")
    now = utcnow()
    with transaction(session):
        _add(session, "m", -timedelta(seconds=1))
    with transaction(session):
        [row] = claim_due(session=session, worker="b", now=now, limit=10, lease=LEASE)
    assert row.id is not None
    row_id = row.id
    failures: list[BaseException] = []

    def second_dispatcher() -> None:
        try:
            with Session(engine) as other, transaction(other):
                mark_retry(session=other, row_id=row_id, worker="b", error="balance", next_attempt_at=now)
                enqueue_balance_alert(session=other, channel="sms", provider="p", now=now)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            failures.append(exc)

    with Session(engine) as first:
        with transaction(first):
            enqueue_balance_alert(session=first, channel="sms", provider="p", now=now)
            thread = threading.Thread(target=second_dispatcher)
            thread.start()
            time.sleep(0.3)  # the second one reaches its insert and waits on ours
        thread.join(timeout=30)
    assert failures == []
    keys = [r.idempotency_key for r in rows(session)]
    assert keys.count(f"alert:balance:sms:{local_date(now).isoformat()}") == 1
    assert row_by_key(session, "m").status == "pending"  # the retry committed with the dropped insert
