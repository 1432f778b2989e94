"""Services never commit: the caller's unit of work keeps all of a step's writes, or none of them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from models.cases import (
    CaseRecord,
    CaseStage,
    DonationCompleted,
    DonorCase,
    FollowUp,
    StepKey,
    enter_stage,
    open_case,
    record_donation,
    today,
)
from models.cases import stages as stage_services
from models.core import ConflictError, StageEvent, transaction, unit_of_work
from models.outreach import Outbox
from tests.factories import add_donor, add_search


def _case_at_donation(session: Session) -> DonorCase:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        for stage in (CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING, CaseStage.EXAM, CaseStage.DONATION):
            enter_stage(session=session, case_id=case.id, stage=stage, actor="arrange")
    return case


def _written(engine: Engine, case_id: str) -> tuple[int, int, int, int, int]:
    """What another connection sees of the case: records, follow-ups, outbox rows, case events, version."""
    with Session(engine) as fresh:
        count = func.count()
        records = fresh.exec(select(count).select_from(CaseRecord).where(CaseRecord.case_id == case_id)).one()
        follow_ups = fresh.exec(select(count).select_from(FollowUp).where(FollowUp.case_id == case_id)).one()
        outbox = fresh.exec(select(count).select_from(Outbox)).one()
        events = fresh.exec(select(count).select_from(StageEvent).where(StageEvent.case_id == case_id)).one()
        case = fresh.get(DonorCase, case_id)
        assert case is not None
        return records, follow_ups, outbox, events, case.version


def test_a_step_failing_after_its_first_writes_leaves_the_database_unchanged(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case_at_donation(session)
    before = _written(engine, case.id)

    def conflict_on_the_move(**_kwargs: Any) -> DonorCase:
        # The move, after the step's first writes: by now the answer and 14 follow-ups are flushed (the
        # thank-you is queued after the move, so it never is here).
        pending = session.exec(select(func.count()).select_from(FollowUp)).one()
        assert pending == 14
        raise ConflictError("case changed by someone else")

    monkeypatch.setattr(stage_services, "advance_case", conflict_on_the_move)
    done = DonationCompleted(coordinator="王", completed=True, collected_on=today())
    with pytest.raises(ConflictError), transaction(session):
        record_donation(session=session, case_id=case.id, answer=done)

    assert _written(engine, case.id) == before
    session.refresh(case)
    assert (case.stage, case.version) == ("donation", before[4])


def test_the_same_step_in_a_unit_of_work_commits_every_write_together(
    session: Session, engine: Engine
) -> None:
    case = _case_at_donation(session)
    records, follow_ups, outbox, events, version = _written(engine, case.id)
    done = DonationCompleted(coordinator="王", completed=True, collected_on=today())
    with unit_of_work(lambda: Session(engine)) as own:
        outcome = record_donation(session=own, case_id=case.id, answer=done)
        assert _written(engine, case.id) == (records, follow_ups, outbox, events, version)  # not yet
    assert outcome.stage == "follow_up"
    # outbox: the thank-you message and the move's donorflow.case.follow_up event
    assert _written(engine, case.id) == (records + 1, follow_ups + 14, outbox + 2, events + 1, version + 1)


def test_a_replayed_step_reports_what_the_table_says_not_what_its_key_looks_like(
    session: Session,
) -> None:
    case = _case_at_donation(session)
    done = DonationCompleted(coordinator="王", completed=True, collected_on=today())
    with transaction(session):
        record_donation(session=session, case_id=case.id, answer=done)
    again = stage_services.replayed_outcome(session=session, case_id=case.id, step=StepKey.DONATION_COMPLETED)
    booked = stage_services.replayed_outcome(session=session, case_id=case.id, step=StepKey.DONATION_BOOKED)
    assert again is not None and (again.result, again.stage, again.replayed) == (
        "advanced",
        "follow_up",
        True,
    )
    assert booked is None  # never answered: asked, not replayed
