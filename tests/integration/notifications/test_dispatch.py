"""The dispatcher against a real database (SQLite and PostgreSQL) and a generic SMS gateway on loopback:
sent, retried, dead, skipped, deferred; coordinator alerts fanned out once per target."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.core import BalanceExhaustedError, StageEvent, transaction
from models.outreach import (
    Outbox,
    enqueue,
    enqueue_alert,
    enqueue_event,
    outbox_status,
    set_opt_out,
)
from models.registry import Donor, withdraw_donor
from notifications import Channel, OutgoingMessage, Receipt, Renderer, sample_context
from tests.factories import add_donor
from tests.integration.notifications.dispatch_support import (
    Dispatcher,
    Gateway,
    daytime,
    row_by_key,
    rows,
    write_templates,
)

PHONE = "+8613800138000"  # tests.factories gives every member 13800138000


@pytest.fixture
def gateway(httpserver: HTTPServer) -> Iterator[Gateway]:
    yield Gateway(httpserver)
    httpserver.clear()


@pytest.fixture
def run(engine: Engine, session: Session, gateway: Gateway, tmp_path: Path) -> Dispatcher:
    return Dispatcher(engine, gateway, Renderer(overrides=write_templates(tmp_path / "templates")))


def contact(session: Session, donor: Donor, *, key: str = "case:1:contact:1", **options: object) -> Outbox:
    with transaction(session):
        row = enqueue(
            session=session,
            donor=donor,
            template_key="remobilisation_contact",
            context={"code": donor.code, "attempt": 1},
            key=key,
            **options,  # type: ignore[arg-type]
        )
    assert row is not None
    return row


def test_a_sent_message_keeps_the_provider_id_the_channel_and_the_text(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, channel="sms")
    assert run().as_dict() == {"sent": 1, "retried": 0, "dead": 0, "skipped": 0, "deferred": 0}
    [(key, body)] = gateway.received
    assert key == "case:1:contact:1"
    assert body == {
        "to": PHONE,
        "text": f"【测试】志愿者{donor.code}：配型相合请回电（第1次）。",
    }
    row = row_by_key(session, key)
    assert (row.status, row.channel, row.provider_message_id, row.attempts) == ("sent", "sms", "gw-1", 0)
    assert row.rendered == body["text"] and row.sent_at is not None
    assert run().sent == 0  # nothing due any more


def test_a_message_without_a_channel_goes_to_the_preferred_one(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    donor.email, donor.preferred_channel = "wang@example.org", "email"
    session.add(donor)
    session.commit()
    with transaction(session):
        enqueue(
            session=session,
            donor=donor,
            template_key="registration_welcome",
            context={"code": donor.code},
            key="welcome:1",
        )
    assert run().sent == 1
    [message] = run.email.sent
    assert (message.to, message.subject, message.text) == (
        "wang@example.org",
        f"欢迎 {donor.code}",
        f"欢迎志愿者{donor.code}。",
    )
    assert message.html == f"<p>欢迎志愿者{donor.code}。</p>" and message.params == {"code": donor.code}
    assert gateway.received == []
    row = row_by_key(session, "welcome:1")
    assert row.channel == "email" and row.rendered == f"欢迎 {donor.code}\n\n欢迎志愿者{donor.code}。"


@pytest.mark.parametrize("status", [503, 429])
def test_a_busy_gateway_is_retried_later_with_the_same_key_then_sent(
    session: Session, run: Dispatcher, gateway: Gateway, status: int
) -> None:
    donor = add_donor(session)
    contact(session, donor, channel="sms")
    gateway.statuses = [status]
    now = daytime()
    assert run(now=now).as_dict() == {"sent": 0, "retried": 1, "dead": 0, "skipped": 0, "deferred": 0}
    row = row_by_key(session, "case:1:contact:1")
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert f"HTTP {status}" in (row.last_error or "")
    assert now < row.next_attempt_at <= now + timedelta(seconds=30)  # first backoff: up to the base
    assert run(now=now).sent == 0  # not due yet at the same moment
    assert run(now=now + timedelta(minutes=1)).sent == 1
    assert gateway.keys == ["case:1:contact:1", "case:1:contact:1"]
    assert row_by_key(session, "case:1:contact:1").status == "sent"


def test_a_refused_message_is_dead_with_the_reason_and_the_coordinators_are_told(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    row = contact(session, donor, channel="sms")
    gateway.statuses = [400]
    assert run().as_dict() == {"sent": 2, "retried": 0, "dead": 1, "skipped": 0, "deferred": 0}
    dead = row_by_key(session, "case:1:contact:1")
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert "HTTP 400" in (dead.last_error or "")
    alert = row_by_key(session, f"alert:dead:{row.id}")
    assert alert.context == {
        "message_id": row.id,
        "template_key": "remobilisation_contact",
        "channel": "sms",
        "reason": dead.last_error,
    }
    # The same run delivered the alert to both coordinator targets (the "sent 2").
    assert [m.idempotency_key for m in run.alerts.email.sent] == [f"alert:dead:{row.id}:email-1"]
    assert [m.idempotency_key for m in run.alerts.bot.sent] == [f"alert:dead:{row.id}:group-bot"]
    assert run.alerts.email.sent[0].to == "coordinator@example.org"
    assert run.alerts.bot.sent[0].text.startswith(f"**消息{row.id}发送失败**")
    assert gateway.keys == ["case:1:contact:1"]


def test_too_many_transient_failures_make_a_message_dead_with_the_last_error(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, channel="sms")
    gateway.statuses = [503, 503]
    now = daytime()
    assert run(now=now, max_attempts=2).retried == 1
    result = run(now=now + timedelta(hours=1), max_attempts=2)
    assert (result.dead, result.sent) == (1, 2)  # the dead letter, and its alert to two targets
    row = row_by_key(session, "case:1:contact:1")
    assert (row.status, row.attempts) == ("dead", 2)
    assert row.last_error == "too many attempts: SMS gateway answered HTTP 503"


def test_an_opted_out_member_is_skipped_and_nothing_is_sent(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, channel="sms")
    with transaction(session):
        set_opt_out(session=session, code=donor.code, channel="sms", opted_out=True, actor="test")
    assert run().as_dict() == {"sent": 0, "retried": 0, "dead": 0, "skipped": 1, "deferred": 0}
    row = row_by_key(session, "case:1:contact:1")
    assert (row.status, row.last_error, row.attempts) == ("skipped", "opted out", 0)
    assert gateway.received == [] and run.alerts.email.sent == []


def test_withdrawal_skips_pending_messages_but_its_confirmation_still_reaches_the_member(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, channel="sms")
    with transaction(session):
        enqueue(
            session=session,
            donor=donor,
            template_key="withdrawal_confirmation",
            context={"code": donor.code},
            key="withdrawal:1",
            channel="sms",
            keep_address=True,
        )
        withdraw_donor(session=session, code=donor.code, actor="test")
    assert donor.phone is None  # erased: only the confirmation's copy of the address is left
    assert run().as_dict() == {"sent": 1, "retried": 0, "dead": 0, "skipped": 1, "deferred": 0}
    assert [(key, body["to"]) for key, body in gateway.received] == [("withdrawal:1", PHONE)]
    skipped = row_by_key(session, "case:1:contact:1")
    assert (skipped.status, skipped.last_error) == ("skipped", "withdrawn")
    confirmation = row_by_key(session, "withdrawal:1")
    assert confirmation.status == "sent" and confirmation.address_snapshot is None  # not kept once sent


def test_a_message_queued_to_a_member_after_their_death_is_skipped_not_sent(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    from models.reminders import record_death

    donor = add_donor(session)
    with transaction(session):
        record_death(session=session, code=donor.code, died_on=date(2026, 1, 1), actor="test")
    contact(session, donor, channel="sms")  # e.g. a stage message written by a run already under way
    assert run().as_dict() == {"sent": 0, "retried": 0, "dead": 0, "skipped": 1, "deferred": 0}
    row = row_by_key(session, "case:1:contact:1")
    assert (row.status, row.last_error, row.attempts) == ("skipped", "deceased", 0)
    assert gateway.received == [] and run.alerts.email.sent == []


def test_quiet_hours_hold_a_routine_message_until_morning_and_let_an_urgent_one_through(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, key="routine", channel="sms")
    contact(session, donor, key="urgent", channel="sms", urgent=True)
    night = daytime(hour=22)
    assert run(now=night).as_dict() == {"sent": 1, "retried": 0, "dead": 0, "skipped": 0, "deferred": 1}
    assert gateway.keys == ["urgent"]
    held = row_by_key(session, "routine")
    assert (held.status, held.attempts, held.claimed_by) == ("pending", 0, None)
    assert held.next_attempt_at == daytime(days=2, hour=8)
    assert run(now=daytime(days=2, hour=7)).sent == 0
    assert run(now=daytime(days=2, hour=8)).sent == 1
    assert gateway.keys == ["urgent", "routine"]


def test_quiet_hours_never_hold_a_coordinator_alert(session: Session, run: Dispatcher) -> None:
    with transaction(session):
        enqueue_alert(
            session=session,
            template_key="high_res_result",
            context={**sample_context("high_res_result"), "case_id": "c1", "result": "10/10"},
            key="alert:high-res:c1",
            urgent=False,
        )
    assert run(now=daytime(hour=3)).as_dict()["deferred"] == 0
    assert len(run.alerts.email.sent) == len(run.alerts.bot.sent) == 1


def test_an_alert_reaches_each_target_once_even_when_dispatched_twice(
    session: Session, run: Dispatcher
) -> None:
    with transaction(session):
        enqueue_alert(
            session=session,
            template_key="high_res_result",
            context={**sample_context("high_res_result"), "case_id": "c1", "result": "10/10 allele"},
            key="alert:high-res:c1",
        )
    assert run().sent == 2
    assert run(now=daytime(days=3)).sent == 0
    # Even if the alert itself were claimed again (a second dispatcher, a lapsed lease), its copies are not
    # added twice: the copy keys are stored once.
    with transaction(session):
        session.exec(
            select(Outbox).where(Outbox.idempotency_key == "alert:high-res:c1")
        ).one().status = "pending"
    assert run(now=daytime(days=4)).sent == 0
    assert [m.idempotency_key for m in run.alerts.email.sent] == ["alert:high-res:c1:email-1"]
    assert [m.idempotency_key for m in run.alerts.bot.sent] == ["alert:high-res:c1:group-bot"]
    assert run.alerts.bot.sent[0].text == "高分辨结果 c1: 10/10 allele"
    keys = {row.idempotency_key: row.status for row in rows(session)}
    assert keys == {
        "alert:high-res:c1": "sent",
        "alert:high-res:c1:email-1": "sent",
        "alert:high-res:c1:group-bot": "sent",
    }


def test_an_alert_that_dies_raises_no_further_alert(session: Session, run: Dispatcher) -> None:
    with transaction(session):
        enqueue_alert(session=session, template_key="no_such_alert", context={}, key="alert:x")
    result = run()
    assert (result.dead, result.sent) == (2, 0)  # one copy per target, neither renders
    assert {row.idempotency_key for row in rows(session)} == {
        "alert:x",
        "alert:x:email-1",
        "alert:x:group-bot",
    }


def test_a_message_that_cannot_render_is_dead_at_once(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    with transaction(session):
        enqueue(
            session=session,
            donor=donor,
            template_key="remobilisation_contact",
            context={"code": donor.code},  # no attempt: StrictUndefined refuses to render a blank
            key="broken",
            channel="sms",
        )
    assert run().dead == 1
    row = row_by_key(session, "broken")
    assert row.status == "dead" and "attempt" in (row.last_error or "") and row.attempts == 0
    assert gateway.received == []


def test_a_member_without_any_reachable_channel_is_dead(session: Session, run: Dispatcher) -> None:
    donor = add_donor(session)
    with transaction(session):
        enqueue(
            session=session,
            donor=donor,
            template_key="registration_welcome",
            context={},
            key="w",
            channel="wechat",
        )
    assert run().dead == 1
    assert row_by_key(session, "w").last_error == "no channel"


class EmptyAccount(Channel):
    name: ClassVar[str] = "sms"
    provider = "test-provider"

    async def send(self, message: OutgoingMessage) -> Receipt:
        raise BalanceExhaustedError("SMS provider: balance exhausted")


def test_an_exhausted_balance_alerts_once_a_day_and_the_messages_wait_without_counting(
    session: Session, run: Dispatcher
) -> None:
    donor = add_donor(session)
    contact(session, donor, key="one", channel="sms")
    contact(session, donor, key="two", channel="sms")
    run.extra["sms"] = EmptyAccount()
    now = daytime()
    assert run(now=now).retried == 2
    for key in ("one", "two"):
        row = row_by_key(session, key)
        assert (row.status, row.attempts) == ("pending", 0)
        assert row.next_attempt_at == now + timedelta(hours=1)
    alerts = [row for row in rows(session) if row.template_key == "alert_balance"]
    day = now.date().isoformat()
    assert {row.idempotency_key for row in alerts} >= {f"alert:balance:sms:{day}"}
    assert alerts[0].context == {"channel": "sms", "provider": "test-provider"}
    assert len(run.alerts.bot.sent) == 1  # one alert per channel and day, however many messages wait


def test_a_dry_run_counts_what_would_happen_and_changes_nothing(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, key="a", channel="sms")
    contact(session, donor, key="b", channel="email")  # no e-mail address: dead
    before = [(row.id, row.status, row.attempts) for row in rows(session)]
    result = run(dry_run=True)
    assert (result.sent, result.dead) == (3, 1)  # a, and the dead letter's alert to two targets
    assert [(row.id, row.status, row.attempts) for row in rows(session)] == before
    assert gateway.received == [] and run.alerts.email.sent == []


def test_pipeline_events_are_left_to_their_relay(session: Session, run: Dispatcher) -> None:
    with transaction(session):
        enqueue_event(session=session, event="donorflow.case.exam", resource={"case_id": "c1"}, key="event:1")
    assert run().as_dict() == {"sent": 0, "retried": 0, "dead": 0, "skipped": 0, "deferred": 0}
    assert row_by_key(session, "event:1").status == "pending"


def test_status_counts_rows_by_kind_and_lists_dead_letters_with_reasons(
    session: Session, run: Dispatcher, gateway: Gateway
) -> None:
    donor = add_donor(session)
    contact(session, donor, key="a", channel="sms")
    contact(session, donor, key="b", channel="sms")
    with transaction(session):
        enqueue_event(session=session, event="donorflow.case.exam", resource={"case_id": "c1"}, key="event:1")
    gateway.statuses = [200, 400]
    # One at a time: the gateway answers its statuses in arrival order (a first, then b).
    run(max_per_run=2, concurrency=1)  # the two messages only: the dead letter's alert stays pending
    status = outbox_status(session=session)
    assert status.counts == {"message": {"sent": 1, "dead": 1, "pending": 1}, "event": {"pending": 1}}
    [letter] = status.dead
    assert (letter.idempotency_key, letter.template_key, letter.channel, letter.attempts) == (
        "b",
        "remobilisation_contact",
        "sms",
        1,
    )
    assert "HTTP 400" in letter.reason and status.dead_total == 1
    assert "13800138000" not in str(status.as_dict())


def test_an_opt_out_is_audited_and_can_be_undone(session: Session) -> None:
    donor = add_donor(session)
    with transaction(session):
        set_opt_out(session=session, code=donor.code, channel="email", opted_out=True, actor="cli:test")
        set_opt_out(session=session, code=donor.code, channel="email", opted_out=True, actor="cli:test")
    session.refresh(donor)
    assert donor.opt_out_email and donor.version == 2
    with transaction(session):
        set_opt_out(session=session, code=donor.code, channel="email", opted_out=False, actor="cli:test")
    events = session.exec(
        select(StageEvent).where(StageEvent.entity == "contact").order_by(col(StageEvent.id))
    ).all()
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        ("email", "opted_out", "cli:test"),
        ("email", "opted_in", "cli:test"),
    ]


def test_log_lines_name_the_row_and_mask_the_recipient(
    session: Session, run: Dispatcher, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    donor = add_donor(session)
    contact(session, donor, key="a", channel="sms")
    contact(session, donor, key="b", channel="sms")
    gateway.statuses = [200, 503]
    with caplog.at_level(logging.INFO, logger="donorflow.notifications"):
        result = run()
    assert (result.sent, result.retried) == (1, 1)
    lines = [record.getMessage() for record in caplog.records]
    assert any("sent: remobilisation_contact via sms 138****8000" in line for line in lines), lines
    assert any("retried: remobilisation_contact via sms 138****8000" in line for line in lines), lines
    assert "13800138000" not in caplog.text and "王小明" not in caplog.text
