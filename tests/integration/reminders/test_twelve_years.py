"""Twelve years of daily runs of the reminder engine for a handful of members, with a frozen clock
(issue 11, "Must show"): each follow-up queued once on its calendar day (a 29 February donation
included), nothing after a withdrawal, retirement on the birthday of the age limit, a 3-day outage
caught up once, a 30-day outage recorded as missed and not sent, nothing after a death.

Runs the service directly (no Prefect), one session per day, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import DonorCase, FollowUp
from models.core import StageEvent, local_date, transaction
from models.outreach import Outbox, withdraw_member
from models.registry import Donor
from models.reminders import CoordinatorTask, Reminder, follow_up_kind, record_death
from tests.databases import empty_all_tables
from tests.integration.reminders.support import donated_case, morning, run_day

START = date(2024, 2, 29)
END = date(2036, 6, 30)
# B's month-1 (2024-04-15) falls in a 3-day outage; its month-6 (2024-09-15) in a 30-day one.
SHORT_OUTAGE = {date(2024, 4, 14) + timedelta(days=n) for n in range(3)}
LONG_OUTAGE = {date(2024, 9, 1) + timedelta(days=n) for n in range(30)}
WITHDRAWAL = date(2026, 1, 10)
DEATH = date(2027, 6, 1)


@pytest.fixture(scope="module")
def years(engine: Engine) -> Iterator[dict[str, object]]:
    """Run every day from START to END (once per database); the members' case ids and each day's counts."""
    empty_all_tables(engine)
    with Session(engine) as session:
        yield _simulate(session, engine)


@pytest.fixture
def db(engine: Engine, years: dict[str, object]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def _simulate(session: Session, engine: Engine) -> dict[str, object]:
    leap = donated_case(session, date(2024, 2, 29))  # never answers
    outage = donated_case(session, date(2024, 3, 15))  # never answers; its follow-ups meet the outages
    leaver = donated_case(session, date(2024, 3, 1))  # withdraws in January 2026
    dying = donated_case(session, date(2024, 3, 4))  # answers nothing; dies in June 2027
    answerer = donated_case(session, date(2024, 3, 2))  # answers every questionnaire the day it comes
    # Born 29 February 1972: 55 on 28 February 2027 (a common year); has an open case in follow-up.
    retiring = donated_case(session, date(2024, 3, 3), birth_date=date(1972, 2, 29))
    counts: dict[date, dict[str, dict[str, int]]] = {}
    with time_machine.travel(morning(START), tick=False) as clock:
        day = START
        while day <= END:
            if day not in SHORT_OUTAGE and day not in LONG_OUTAGE:
                clock.move_to(morning(day))
                if day == WITHDRAWAL:
                    _withdraw(engine, leaver.donor_id)
                if day == DEATH:
                    _record_death(engine, dying.donor_id)
                counts[day] = run_day(engine, day).as_dict()
                if counts[day]["enqueued"]:
                    _answer_everything_sent(engine, answerer.id)
            day += timedelta(days=1)
    return {
        "leap": leap.id,
        "outage": outage.id,
        "leaver": leaver.id,
        "dying": dying.id,
        "answerer": answerer.id,
        "retiring": retiring.id,
        "counts": counts,
    }


def _withdraw(engine: Engine, donor_id: int) -> None:
    with Session(engine) as session, transaction(session):
        donor = session.get(Donor, donor_id)
        assert donor is not None
        withdraw_member(session=session, code=donor.code, actor="test")


def _record_death(engine: Engine, donor_id: int) -> None:
    with Session(engine) as session, transaction(session):
        donor = session.get(Donor, donor_id)
        assert donor is not None
        record_death(session=session, code=donor.code, died_on=DEATH - timedelta(days=3), actor="test")


def _answer_everything_sent(engine: Engine, case_id: str) -> None:
    with Session(engine) as session, transaction(session):
        session.execute(
            update(FollowUp)
            .where(col(FollowUp.case_id) == case_id, col(FollowUp.status) == "reminded")
            .values(status="answered", answered_by="test")
        )


def _first_reminders(session: Session, case_id: str) -> dict[str, list[date]]:
    """kind → the local days its first questionnaire message was queued on."""
    prefix = f"reminder:follow_up:{case_id}:"
    rows = session.exec(
        select(Outbox).where(
            col(Outbox.idempotency_key).startswith(prefix), Outbox.template_key == "follow_up"
        )
    ).all()
    found: dict[str, list[date]] = defaultdict(list)
    for row in rows:
        rest = row.idempotency_key.removeprefix(prefix)
        if ":" not in rest:  # ":2", ":3" are the reminders after it
            found[rest].append(local_date(row.created_at))
    return dict(found)


def _due(session: Session, case_id: str) -> dict[str, date]:
    rows = session.exec(select(FollowUp).where(FollowUp.case_id == case_id)).all()
    return {follow_up_kind(f.label): f.due_on for f in rows}


def test_each_follow_up_is_queued_once_on_its_calendar_day_including_29_february(
    db: Session, years: dict[str, object]
) -> None:
    case_id = str(years["leap"])
    due = _due(db, case_id)
    assert due["month_1"] == date(2024, 3, 29) and due["year_1"] == date(2025, 2, 28)
    assert due["year_4"] == date(2028, 2, 29)  # a leap year again: the 29th
    assert _first_reminders(db, case_id) == {kind: [on] for kind, on in due.items()}


def test_unanswered_follow_ups_are_reminded_then_lost_and_the_case_closes_after_year_10(
    db: Session, years: dict[str, object]
) -> None:
    case_id = str(years["leap"])
    follow_ups = {f.label: f for f in db.exec(select(FollowUp).where(FollowUp.case_id == case_id))}
    # Month 6 (29 August 2024) was sent; its second reminder fell in the 30-day outage: missed.
    month_6 = follow_ups.pop("month-6")
    assert (month_6.status, month_6.reminders_sent) == ("missed", 1)
    assert {f.status for f in follow_ups.values()} == {"lost"}
    assert {f.reminders_sent for f in follow_ups.values()} == {3}
    tasks = db.exec(
        select(CoordinatorTask).where(
            CoordinatorTask.case_id == case_id, CoordinatorTask.kind == "follow_up_unanswered"
        )
    ).all()
    assert len(tasks) == 13 * 2  # the second and third reminder of each but month 6
    case = db.get(DonorCase, case_id)
    assert case is not None and (case.status, case.closed_reason) == ("closed", "lost_to_follow_up")


def test_answered_follow_ups_are_sent_once_and_never_chased(db: Session, years: dict[str, object]) -> None:
    case_id = str(years["answerer"])
    follow_ups = {f.label: f for f in db.exec(select(FollowUp).where(FollowUp.case_id == case_id))}
    # Month 6 fell due on 2 September 2024, in the 30-day outage: missed, never sent.
    assert (follow_ups.pop("month-6").status, follow_ups["month-1"].reminders_sent) == ("missed", 1)
    assert {(f.status, f.reminders_sent) for f in follow_ups.values()} == {("answered", 1)}
    assert len(_first_reminders(db, case_id)) == 13
    chased = db.exec(select(Outbox).where(col(Outbox.idempotency_key).like(f"%{case_id}:%:_"))).all()
    assert chased == []


def test_a_3_day_outage_is_caught_up_once_and_a_30_day_outage_is_missed_not_sent(
    db: Session, years: dict[str, object]
) -> None:
    case_id = str(years["outage"])
    sent = _first_reminders(db, case_id)
    assert sent["month_1"] == [date(2024, 4, 17)]  # due 15 April, during the outage: the next run
    assert "month_6" not in sent  # due 15 September, 16 days before the next run
    month_6 = db.exec(select(FollowUp).where(FollowUp.case_id == case_id, FollowUp.label == "month-6")).one()
    assert month_6.status == "missed"
    ledger = db.exec(select(Reminder).where(Reminder.key == f"reminder:follow_up:{case_id}:month_6")).one()
    assert (ledger.outcome, ledger.run_on) == ("missed", date(2024, 10, 1))
    task = db.exec(
        select(CoordinatorTask).where(
            CoordinatorTask.kind == "missed_reminder", CoordinatorTask.case_id == case_id
        )
    ).all()
    assert [t.detail["reminder"] for t in task] == [ledger.key]
    counts = years["counts"]
    assert isinstance(counts, dict)
    # Every member's month 6 (or its reminder) fell due in September: six missed, none sent.
    assert counts[date(2024, 10, 1)]["missed"] == {"follow_up": 6}
    assert "follow_up" not in counts[date(2024, 10, 1)]["enqueued"]
    assert counts[date(2024, 4, 17)]["enqueued"].get("follow_up", 0) >= 1


def test_nothing_is_queued_after_a_withdrawal_and_open_follow_ups_are_cancelled(
    db: Session, years: dict[str, object]
) -> None:
    case_id = str(years["leaver"])
    sent = _first_reminders(db, case_id)
    assert sent and max(max(days) for days in sent.values()) < WITHDRAWAL
    after = db.exec(
        select(Outbox).where(
            col(Outbox.idempotency_key).startswith(f"reminder:follow_up:{case_id}:"),
            col(Outbox.created_at) >= morning(WITHDRAWAL),
        )
    ).all()
    assert after == []
    statuses = {f.label: f.status for f in db.exec(select(FollowUp).where(FollowUp.case_id == case_id))}
    assert statuses["year-2"] == "cancelled" and statuses["year-10"] == "cancelled"


def test_nothing_is_queued_after_a_death_and_what_was_pending_is_skipped(
    db: Session, years: dict[str, object]
) -> None:
    case = db.get(DonorCase, str(years["dying"]))
    assert case is not None
    sent = _first_reminders(db, case.id)
    assert sent and max(max(days) for days in sent.values()) < DEATH
    to_them = db.exec(select(Outbox).where(Outbox.recipient_ref == f"donor:{case.donor_id}")).all()
    assert to_them and all(local_date(row.created_at) < DEATH for row in to_them)
    # Nothing was dispatched in the simulation: what was still pending at the death is stopped.
    assert {(row.status, row.last_error) for row in to_them} == {("skipped", "deceased")}
    statuses = {f.label: f.status for f in db.exec(select(FollowUp).where(FollowUp.case_id == case.id))}
    assert statuses["year-4"] == "cancelled" and statuses["year-10"] == "cancelled"
    assert not db.exec(
        select(Reminder).where(Reminder.donor_id == case.donor_id, col(Reminder.run_on) >= DEATH)
    ).all()
    [task] = db.exec(select(CoordinatorTask).where(CoordinatorTask.kind == "deceased_case")).all()
    assert task.case_id == case.id and task.status == "open"
    chasing = db.exec(
        select(CoordinatorTask).where(
            CoordinatorTask.donor_id == case.donor_id, CoordinatorTask.kind != "deceased_case"
        )
    ).all()
    assert chasing and {t.status for t in chasing} == {"done"}


def test_a_member_born_on_29_february_retires_on_28_february_of_the_common_year_they_reach_55(
    db: Session, years: dict[str, object]
) -> None:
    case = db.get(DonorCase, str(years["retiring"]))
    assert case is not None
    donor = db.get(Donor, case.donor_id)
    assert donor is not None and donor.status == "retired"
    [event] = db.exec(
        select(StageEvent).where(StageEvent.donor_id == donor.id, StageEvent.to_state == "retired")
    ).all()
    assert local_date(event.at) == date(2027, 2, 28)
    [thanks] = db.exec(
        select(Outbox).where(
            Outbox.template_key == "retirement_thanks", Outbox.recipient_ref == f"donor:{donor.id}"
        )
    ).all()
    assert local_date(thanks.created_at) == date(2027, 2, 28)
    [task] = db.exec(select(CoordinatorTask).where(CoordinatorTask.kind == "age_out_case")).all()
    assert task.case_id == case.id and task.due_on == date(2027, 2, 28)
