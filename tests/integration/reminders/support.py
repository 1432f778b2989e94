"""Builders for the reminder engine's tests: members with a donation and its follow-ups, a day's run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.cases import CaseStage, DonorCase, FollowUp, follow_up_dates
from models.core import SHANGHAI
from models.reminders import ReminderConfig, RunResult, run
from tests.factories import add_case

CONFIG = ReminderConfig()


def morning(day: date) -> datetime:
    """09:00 in Shanghai on `day` (when the deployment runs), in UTC."""
    return datetime.combine(day, time(9), tzinfo=SHANGHAI).astimezone(UTC)


def donated_case(session: Session, donated_on: date, *, birth_date: date | None = None) -> DonorCase:
    """An active case in follow-up after a donation on `donated_on`, with its 14 follow-ups (committed)."""
    case = add_case(session, stage=CaseStage.FOLLOW_UP)
    for label, due_on in follow_up_dates(donated_on):
        session.add(FollowUp(case_id=case.id, donor_id=case.donor_id, label=label, due_on=due_on))
    if birth_date is not None:
        from models.registry import Donor

        donor = session.get(Donor, case.donor_id)
        assert donor is not None
        donor.birth_date = birth_date
        session.add(donor)
    session.commit()
    session.refresh(case)
    return case


def run_day(engine: Engine, day: date, config: ReminderConfig = CONFIG) -> RunResult:
    return run(lambda: Session(engine), day, config)
