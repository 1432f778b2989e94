"""A member's withdrawal: one confirmation to the address it erases, and nothing else sent after it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.core import ConflictError, ValidationError, transaction
from models.outreach import Outbox, enqueue, withdraw_member
from models.registry import Donor, get_donor
from tests.factories import add_donor

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _queue(session: Session, donor: Donor, *keys: str) -> None:
    with transaction(session):
        for key in keys:
            enqueue(session=session, donor=donor, template_key="availability_check", context={}, key=key)


def _rows(session: Session) -> dict[str, Outbox]:
    session.expire_all()
    return {r.idempotency_key: r for r in session.exec(select(Outbox).order_by(col(Outbox.id)))}


def test_withdrawal_confirms_to_the_erased_phone_and_skips_every_other_pending_message(
    session: Session,
) -> None:
    donor, other = add_donor(session), add_donor(session)
    _queue(session, donor, "a", "b")
    _queue(session, other, "c")
    with transaction(session):
        sent = session.exec(select(Outbox).where(Outbox.idempotency_key == "b")).one()
        sent.status = "sent"  # already delivered: stays as it was
    with transaction(session):
        withdrawn = withdraw_member(session=session, code=donor.code, actor="data-manager", at=WHEN)

    assert withdrawn.phone is None and withdrawn.status == "withdrawn"
    rows = _rows(session)
    confirmation = rows[f"member:{donor.id}:withdrawal:20260302T093000"]
    assert (confirmation.template_key, confirmation.channel, confirmation.status) == (
        "withdrawal_confirmation",
        "sms",
        "pending",
    )
    assert confirmation.address_snapshot == "13800138000"  # the phone the erasure just removed
    assert confirmation.context == {"code": donor.code} and confirmation.recipient_ref == f"donor:{donor.id}"
    assert (rows["a"].status, rows["a"].last_error) == ("skipped", "withdrawn")
    assert (rows["b"].status, rows["b"].last_error) == ("sent", None)
    assert (rows["c"].status, rows["c"].last_error) == ("pending", None)  # another member's


def test_a_member_without_a_phone_is_confirmed_by_email_and_one_with_neither_is_not(session: Session) -> None:
    by_mail, unreachable = add_donor(session), add_donor(session)
    with transaction(session):
        by_mail.phone, by_mail.email = None, "member@example.org"
        unreachable.phone = None
        session.add_all([by_mail, unreachable])
    with transaction(session):
        withdraw_member(session=session, code=by_mail.code, actor="dm", at=WHEN)
        withdraw_member(session=session, code=unreachable.code, actor="dm", at=WHEN)
    rows = list(_rows(session).values())
    assert [(r.recipient_ref, r.channel, r.address_snapshot) for r in rows] == [
        (f"donor:{by_mail.id}", "email", "member@example.org")
    ]
    assert get_donor(session=session, code=by_mail.code).email is None


def test_a_refused_or_conflicting_withdrawal_queues_and_skips_nothing(
    session: Session, engine: Engine
) -> None:
    donor = add_donor(session)
    _queue(session, donor, "a")
    with Session(engine) as coordinator:
        held = get_donor(session=coordinator, code=donor.code)  # read before the change below
        assert held.version == 1
        with transaction(session):  # someone else's write in between
            donor.version = 2
            session.add(donor)
        with pytest.raises(ConflictError), transaction(coordinator):
            withdraw_member(session=coordinator, code=donor.code, actor="coordinator", at=WHEN)
    assert [(r.idempotency_key, r.status) for r in _rows(session).values()] == [("a", "pending")]

    with transaction(session):
        withdraw_member(session=session, code=donor.code, actor="dm", at=WHEN)
    with pytest.raises(ValidationError, match="already withdrawn"), transaction(session):
        withdraw_member(session=session, code=donor.code, actor="dm", at=datetime(2026, 3, 3, tzinfo=UTC))
    assert sorted(r.template_key for r in _rows(session).values()) == [
        "availability_check",
        "withdrawal_confirmation",
    ]


def test_withdrawal_erases_the_wechat_openid(session: Session) -> None:
    donor = add_donor(session)
    with transaction(session):
        donor.wechat_openid = "oAbC-openid-123"
        session.add(donor)
    with transaction(session):
        withdraw_member(session=session, code=donor.code, actor="dm", at=WHEN)
    session.expire_all()
    assert get_donor(session=session, code=donor.code).wechat_openid is None
