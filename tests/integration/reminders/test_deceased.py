"""A member's death on both databases (issue 11 item 4): everything pending to them stops at once, their
open cases become tasks, a S(P)EAR review stays open, and no import or later answer brings them back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.core import StageEvent, ValidationError, local_date, transaction, utcnow
from models.outreach import Outbox, enqueue
from models.registry import Donor
from models.reminders import (
    DECEASED_CASE_TASK,
    SPEAR_TASK,
    CoordinatorTask,
    record_availability,
    record_death,
)
from models.reminders.ledger import open_task
from tests.factories import add_case, add_donor
from tests.integration.reminders.support import donated_case, run_day
from tests.races import two_coordinators_at_once


def _pending_message(session: Session, donor: Donor, key: str) -> None:
    enqueue(
        session=session, donor=donor, template_key="availability_check", context={"code": donor.code}, key=key
    )


def test_a_death_stops_pending_messages_follow_ups_and_contact_tasks_and_flags_open_cases(
    session: Session, engine: Engine
) -> None:
    case = donated_case(session, date(2026, 1, 5))
    donor = session.get(Donor, case.donor_id)
    assert donor is not None and donor.id is not None
    _pending_message(session, donor, "test:pending")
    for kind in ("missed_reminder", SPEAR_TASK):
        open_task(session, key=f"task:{kind}:x", kind=kind, due_on=date(2026, 2, 1), detail={},
                  case_id=case.id, donor_id=donor.id)  # fmt: skip
    session.commit()
    with transaction(session):
        done = record_death(
            session=session, code=donor.code, died_on=local_date(utcnow()), actor="协调员 test"
        )
    assert done.donor.status == "deceased"
    assert (done.messages_skipped, done.follow_ups_cancelled, done.tasks_closed) == (1, 14, 1)
    assert done.cases == [case.id]
    [message] = session.exec(select(Outbox).where(Outbox.idempotency_key == "test:pending")).all()
    assert (message.status, message.last_error, message.address_snapshot) == ("skipped", "deceased", None)
    tasks = {
        t.kind: t for t in session.exec(select(CoordinatorTask).where(CoordinatorTask.donor_id == donor.id))
    }
    assert tasks["missed_reminder"].status == "done" and tasks["missed_reminder"].closed_by == "协调员 test"
    assert tasks[SPEAR_TASK].status == "open"  # the national registry must still hear of it
    assert tasks[DECEASED_CASE_TASK].status == "open" and tasks[DECEASED_CASE_TASK].case_id == case.id
    [event] = session.exec(
        select(StageEvent).where(StageEvent.donor_id == donor.id, StageEvent.to_state == "deceased")
    ).all()
    assert event.actor == "协调员 test" and event.from_state == "active"
    # The next days' runs send nothing to them and open nothing more.
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    assert run_day(engine, tomorrow).as_dict()["enqueued"] == {}
    assert session.exec(select(Outbox).where(Outbox.recipient_ref == f"donor:{donor.id}")).all() == [message]


def test_a_deceased_member_is_not_asked_for_availability_nor_retired(
    session: Session, engine: Engine
) -> None:
    donor = add_donor(session)
    donor.birth_date = date(1971, 3, 1)  # 55 on 2026-03-01
    donor.availability_due_on = date(2026, 2, 1)
    session.add(donor)
    session.commit()
    with transaction(session):
        record_death(session=session, code=donor.code, died_on=date(2026, 1, 20), actor="test")
    assert run_day(engine, date(2026, 3, 2)).as_dict() == {"enqueued": {}, "tasks": {}, "missed": {}}
    session.refresh(donor)
    assert donor.status == "deceased"
    with pytest.raises(ValidationError, match="已故"), transaction(session):
        record_availability(session=session, donor=donor, available=True, until=None, actor="test")


@pytest.mark.parametrize("status", ["deceased", "withdrawn"])
def test_a_death_is_refused_for_a_member_already_deceased_or_withdrawn(session: Session, status: str) -> None:
    donor = add_donor(session, status=status)
    with pytest.raises(ValidationError, match=donor.code), transaction(session):
        record_death(session=session, code=donor.code, died_on=date(2026, 1, 1), actor="test")
    session.refresh(donor)
    assert donor.status == status


def test_a_date_of_death_in_the_future_is_refused_and_nothing_changes(session: Session) -> None:
    case = add_case(session)
    donor = session.get(Donor, case.donor_id)
    assert donor is not None
    future = local_date(utcnow()) + timedelta(days=1)
    with pytest.raises(ValidationError, match="晚于今天"), transaction(session):
        record_death(session=session, code=donor.code, died_on=future, actor="test")
    session.refresh(donor)
    assert donor.status == "active"
    assert session.exec(select(CoordinatorTask)).all() == []


def test_two_coordinators_recording_one_death_at_once_give_one_move_and_one_conflict(
    session: Session, engine: Engine
) -> None:
    """Both read the member in their own connection, then record the death: one move, one task per case."""
    case = add_case(session)
    code = session.get(Donor, case.donor_id).code  # type: ignore[union-attr]

    def read(own: Session) -> Donor:
        # Kept (the helper holds it through the write): the session's identity map then keeps the version
        # read here, as a coordinator's form does. Dropped, it could be reloaded after the other's commit,
        # and the loser was refused as "already deceased" instead of a conflict (1 run in 4 under xdist).
        return own.exec(select(Donor).where(Donor.code == code)).one()

    def write(own: Session, name: str, _seen: Donor) -> None:
        record_death(session=own, code=code, died_on=date(2026, 1, 2), actor=f"coordinator:{name}")

    outcomes, conflicts = two_coordinators_at_once(engine, read, write)
    assert outcomes == ["conflict", "won"]
    assert all(code in message for message in conflicts)
    events = session.exec(select(StageEvent).where(StageEvent.to_state == "deceased")).all()
    assert len(events) == 1
    assert (
        len(session.exec(select(CoordinatorTask).where(CoordinatorTask.kind == DECEASED_CASE_TASK)).all())
        == 1
    )
