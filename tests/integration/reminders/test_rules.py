"""The engine's other kinds on both databases: appointment reminders the day before, idle cases once per
stage, availability checks every 2 years with a member's pause honoured, recorded answers audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import CaseRecord, CaseStage, DonorCase
from models.core import StageEvent, ValidationError, transaction
from models.outreach import Outbox
from models.registry import Donor
from models.reminders import CoordinatorTask, ReminderConfig, plan, record_availability
from tests.factories import add_case, add_donor
from tests.integration.reminders.support import run_day


def _book(session: Session, case_id: str, stage: str, key: str, **data: str) -> None:
    session.add(CaseRecord(case_id=case_id, stage=stage, key=key, data=data, actor="coordinator:test"))
    session.commit()


def test_the_exam_and_the_g_csf_days_are_reminded_the_day_before(session: Session, engine: Engine) -> None:
    exam = add_case(session, stage=CaseStage.EXAM)
    _book(session, exam.id, "exam", "exam-booked", hospital="郑大一附院", exam_date="2026-05-12")
    donation = add_case(session, stage=CaseStage.DONATION)
    _book(session, donation.id, "donation", "donation-booked", hospital="郑大一附院",
          gcsf_start="2026-05-20", collection_date="2026-05-24")  # fmt: skip
    assert run_day(engine, date(2026, 5, 10)).as_dict()["enqueued"] == {}
    assert run_day(engine, date(2026, 5, 11)).as_dict()["enqueued"] == {"appointment": 1}
    assert run_day(engine, date(2026, 5, 11)).as_dict()["enqueued"] == {}
    run_day(engine, date(2026, 5, 19))
    run_day(engine, date(2026, 5, 23))
    rows = session.exec(
        select(Outbox).where(col(Outbox.template_key).in_(["exam_booking", "gcsf_schedule"]))
    ).all()
    assert sorted((r.idempotency_key.split(":", 3)[3], r.template_key) for r in rows) == [
        ("collection:2026-05-24", "gcsf_schedule"),
        ("exam:2026-05-12", "exam_booking"),
        ("gcsf:2026-05-20", "gcsf_schedule"),
    ]
    exam_row = next(r for r in rows if r.template_key == "exam_booking")
    assert exam_row.context == {
        "code": exam_row.context["code"],
        "hospital": "郑大一附院",
        "exam_date": "2026-05-12",
    }


NOTHING: dict[str, dict[str, int]] = {"enqueued": {}, "tasks": {}, "missed": {}}
SENT = {**NOTHING, "enqueued": {"appointment": 1}}
MISSED = {"enqueued": {}, "tasks": {"missed_reminder": 1}, "missed": {"appointment": 1}}


def _book_sample(session: Session, on: str) -> str:
    case = add_case(session, stage=CaseStage.HIGH_RES_TYPING)
    _book(
        session, case.id, "high_res_typing", "sample-booked", site="河南省红十字血液中心", appointment_date=on
    )
    return case.id


def test_the_booked_sample_is_reminded_once_the_day_before_with_its_preparation(
    session: Session, engine: Engine
) -> None:
    case_id = _book_sample(session, "2026-05-12")
    assert run_day(engine, date(2026, 5, 10)).as_dict()["enqueued"] == {}
    assert run_day(engine, date(2026, 5, 11)).as_dict()["enqueued"] == {"appointment": 1}
    assert run_day(engine, date(2026, 5, 11)).as_dict()["enqueued"] == {}  # a second run of the day
    assert run_day(engine, date(2026, 5, 12)).as_dict() == NOTHING
    (row,) = session.exec(select(Outbox).where(Outbox.template_key == "sample_booking")).all()
    assert row.idempotency_key == f"reminder:appointment:{case_id}:sample:2026-05-12"
    assert row.context == {
        "code": row.context["code"],
        "site": "河南省红十字血液中心",
        "appointment_date": "2026-05-12",
    }


@pytest.mark.parametrize(
    ("first_run", "outcome"),
    [
        (date(2026, 5, 10), NOTHING),  # two days before: not yet
        (date(2026, 5, 11), SENT),  # the day before
        (date(2026, 5, 12), SENT),  # the day of: caught up that morning (same as the exam's)
        (date(2026, 5, 13), MISSED),  # the day after: too late for the member, listed for the coordinator
    ],
    ids=["two-days-before", "day-before", "day-of", "day-after"],
)
def test_a_sample_reminder_after_missed_days_is_caught_up_until_the_day_of_then_missed(
    session: Session, engine: Engine, first_run: date, outcome: dict[str, dict[str, int]]
) -> None:
    _book_sample(session, "2026-05-12")
    assert run_day(engine, first_run).as_dict() == outcome


def test_no_sample_reminder_once_the_sample_is_recorded_or_the_member_withdrew(
    session: Session, engine: Engine
) -> None:
    came_early = _book_sample(session, "2026-05-12")
    _book(session, came_early, "high_res_typing", "sample", sample_date="2026-05-08", lab="l")
    withdrew = session.get(DonorCase, _book_sample(session, "2026-05-12"))
    assert withdrew is not None
    donor = session.get(Donor, withdrew.donor_id)
    assert donor is not None
    donor.status = "withdrawn"
    session.add(donor)
    session.commit()
    for day in (date(2026, 5, 11), date(2026, 5, 20)):  # neither sent the day before nor missed after
        assert run_day(engine, day).as_dict() == NOTHING
    assert session.exec(select(Outbox).where(Outbox.template_key == "sample_booking")).all() == []


def test_an_idle_case_opens_one_task_and_one_alert_per_stage(session: Session, engine: Engine) -> None:
    entered = datetime(2026, 4, 1, 2, tzinfo=UTC)
    case = add_case(session, stage=CaseStage.EXAM, due_at=entered + timedelta(days=30))
    case.stage_entered_at = entered
    session.add(case)
    session.commit()
    assert run_day(engine, date(2026, 5, 1)).as_dict()["tasks"] == {}  # due on 1 May: not yet past
    assert run_day(engine, date(2026, 5, 2)).as_dict()["tasks"] == {"idle_case": 1}
    assert run_day(engine, date(2026, 5, 3)).as_dict()["tasks"] == {}
    alerts = session.exec(select(Outbox).where(Outbox.template_key == "alert_case_overdue")).all()
    assert [a.context["case_id"] for a in alerts] == [case.id]
    # A shorter configured limit for the stage (DONORFLOW_STAGE_LIMITS='{"exam": 20}') flags it sooner.
    other = add_case(session, stage=CaseStage.EXAM, due_at=entered + timedelta(days=30))
    other.stage_entered_at = entered
    session.add(other)
    session.commit()
    config = ReminderConfig(stage_limits={"exam": 20})
    assert run_day(engine, date(2026, 4, 21), config).as_dict()["tasks"] == {}
    assert run_day(engine, date(2026, 4, 22), config).as_dict()["tasks"] == {"idle_case": 1}  # the other only
    tasks = session.exec(select(CoordinatorTask).where(CoordinatorTask.kind == "idle_case")).all()
    assert sorted(str(task.case_id) for task in tasks) == sorted([case.id, other.id])


def test_availability_is_checked_every_2_years_and_a_pause_holds_it_until_its_end(
    session: Session, engine: Engine
) -> None:
    donor = add_donor(session)  # consented 1 March 2021
    run_day(engine, date(2026, 2, 1))  # the engine dates the member: 1 March 2027 (2021 + 3 × 2 years)
    session.refresh(donor)
    assert donor.availability_due_on == date(2027, 3, 1)
    assert run_day(engine, date(2027, 3, 1)).as_dict()["enqueued"] == {"availability_check": 1}
    with transaction(session):
        record_availability(session=session, donor=donor, available=False, until=date(2027, 9, 1),
                            actor="coordinator:test", on=date(2027, 3, 5))  # fmt: skip
    assert donor.paused_until == date(2027, 9, 1) and donor.status == "active"  # a pause, not a deferral
    for day in (date(2027, 6, 1), date(2027, 8, 31)):
        assert run_day(engine, day).as_dict()["enqueued"] == {}
    assert run_day(engine, date(2027, 9, 1)).as_dict()["enqueued"] == {"availability_check": 1}
    event = session.exec(
        select(StageEvent).where(StageEvent.donor_id == donor.id).order_by(col(StageEvent.id))
    ).all()[-1]
    assert event.reason == "availability: paused until 2027-09-01" and event.actor == "coordinator:test"
    with pytest.raises(ValidationError):
        record_availability(
            session=session, donor=donor, available=False, until=None, actor="coordinator:test"
        )


def test_a_member_first_seen_on_their_check_day_is_counted_by_the_dry_run_as_the_run_sends_it(
    session: Session, engine: Engine
) -> None:
    donor = add_donor(session)
    donor.consent_at = datetime(2025, 3, 1, 2, tzinfo=UTC)  # 2 years before the day: due that very day
    session.add(donor)
    session.commit()
    day = date(2027, 3, 1)
    with Session(engine) as reading:
        dry = plan(reading, day, ReminderConfig())
    assert dry.as_dict()["enqueued"] == {"availability_check": 1}
    assert run_day(engine, day).as_dict() == dry.as_dict()
    session.refresh(donor)
    assert donor.availability_due_on == date(2029, 3, 1)


def test_withdrawn_and_retired_members_get_no_availability_check(session: Session, engine: Engine) -> None:
    for status in ("withdrawn", "retired", "deferred"):
        add_donor(session, status=status)
    run_day(engine, date(2026, 2, 1))
    assert run_day(engine, date(2027, 3, 1)).as_dict()["enqueued"] == {}
    assert [d.availability_due_on for d in session.exec(select(Donor))] == [None, None, None]
