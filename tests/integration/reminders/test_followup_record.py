"""Recording a follow-up on SQLite and PostgreSQL: answered once, a S(P)EAR opens a task and alerts, the last
follow-up completes the case, and two coordinators at once give one answer and one conflict."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import CaseRecord, CaseStage, DonorCase, FollowUp, follow_up_dates
from models.core import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    StageEvent,
    ValidationError,
    transaction,
)
from models.outreach import Outbox
from models.reminders import CoordinatorTask, FollowUpAnswer, record_follow_up, spear_report
from tests.factories import add_case
from tests.races import two_coordinators_at_once

DONATED = date(2015, 3, 2)
NOW = datetime(2026, 3, 10, 4, tzinfo=UTC)  # past every follow-up of a 2015 donation


def _case_at_follow_up(session: Session, donated: date = DONATED) -> str:
    case = add_case(session, stage=CaseStage.FOLLOW_UP)
    with transaction(session):
        for label, due_on in follow_up_dates(donated):
            session.add(FollowUp(case_id=case.id, donor_id=case.donor_id, label=label, due_on=due_on))
    return case.id


def _answer(**changes: Any) -> FollowUpAnswer:
    values: dict[str, Any] = {
        "coordinator": "李老师",
        "contacted_on": date(2026, 3, 9),
        "recovered": "yes",
        "symptoms": ["none"],
        "serious_event": "no",
    }
    return FollowUpAnswer(**{**values, **changes})


def _record(session: Session, case_id: str, kind: str, answer: FollowUpAnswer | None = None) -> str:
    with transaction(session):
        outcome = record_follow_up(
            session=session,
            case_id=case_id,
            kind=kind,
            answer=answer or _answer(),
            actor="coordinator:李老师",
            flow_run_id="run-1",
            now=NOW,
        )
    return outcome.result


def _follow_up(session: Session, case_id: str, label: str) -> FollowUp:
    session.expire_all()
    row = session.exec(select(FollowUp).where(FollowUp.case_id == case_id, FollowUp.label == label)).one()
    return row


def test_an_answer_is_stored_masked_audited_and_the_case_stays_at_follow_up(session: Session) -> None:
    case_id = _case_at_follow_up(session)
    answer = _answer(
        recovered="no",
        symptoms=["fatigue", "bone_pain"],
        days_off_work=3,
        medication="布洛芬，电话13812345678",
    )
    assert _record(session, case_id, "month_1", answer) == "recorded"
    row = _follow_up(session, case_id, "month-1")
    assert (row.status, row.answered_by, row.spear_category) == ("answered", "coordinator:李老师", None)
    assert row.done_at is not None and row.answers is not None
    assert row.answers["symptoms"] == ["fatigue", "bone_pain"] and row.answers["days_off_work"] == 3
    assert row.answers["medication"] == "布洛芬，电话138****5678" and "coordinator" not in row.answers
    record = session.exec(select(CaseRecord).where(CaseRecord.case_id == case_id)).one()
    assert (record.key, record.flow_run_id) == ("follow-up-month_1", "run-1")
    event = session.exec(select(StageEvent).where(StageEvent.entity == "followup")).one()
    assert (event.from_state, event.to_state, event.reason) == ("due", "answered", "month_1")
    case = session.get(DonorCase, case_id)
    assert case is not None and (case.stage, case.status, case.version) == ("follow_up", "active", 2)
    assert session.exec(select(CoordinatorTask)).all() == []


def test_a_second_answer_for_the_same_follow_up_is_a_conflict_and_changes_nothing(session: Session) -> None:
    case_id = _case_at_follow_up(session)
    _record(session, case_id, "week_1")
    with pytest.raises(ConflictError, match="随访 week_1 已于 2026-03-10 记录，不能再次记录"):
        _record(session, case_id, "week_1", _answer(recovered="no"))
    assert _follow_up(session, case_id, "week-1").answers["recovered"] == "yes"  # type: ignore[index]
    assert len(session.exec(select(CaseRecord).where(CaseRecord.case_id == case_id)).all()) == 1


def test_a_spear_opens_a_review_task_and_alerts_the_coordinators(session: Session) -> None:
    case_id = _case_at_follow_up(session)
    answer = _answer(
        serious_event="yes", spear_category="gcsf_related", spear_description="脾区疼痛住院 2 天"
    )
    _record(session, case_id, "day_2", answer)
    assert _follow_up(session, case_id, "day-2").spear_category == "gcsf_related"
    task = session.exec(select(CoordinatorTask)).one()
    assert (task.kind, task.case_id, task.status, task.due_on) == (
        "spear_review",
        case_id,
        "open",
        date(2026, 3, 10),
    )
    assert task.detail["category"] == "gcsf_related" and task.detail["follow_up"] == "day_2"
    alert = session.exec(select(Outbox).where(Outbox.template_key == "alert_spear")).one()
    assert alert.recipient_ref == "coordinators" and alert.urgent
    assert alert.context["category"] == "gcsf_related" and alert.context["label"] == "day_2"
    assert "脾区" not in str(alert.context)  # the description stays out of messages
    [row] = spear_report(session=session, start=date(2026, 3, 1), end=date(2026, 3, 31)).rows
    assert (row.case_id, row.follow_up, row.category, row.description) == (
        case_id,
        "day_2",
        "gcsf_related",
        "脾区疼痛住院 2 天",
    )


def test_the_last_follow_up_completes_the_case_through_the_transition(session: Session) -> None:
    case_id = _case_at_follow_up(session)
    assert _record(session, case_id, "year_10") == "advanced"
    case = session.get(DonorCase, case_id)
    assert case is not None and (case.stage, case.status) == ("completed", "closed")
    moves = session.exec(
        select(StageEvent.to_state)
        .where(StageEvent.case_id == case_id, StageEvent.entity == "case")
        .order_by(col(StageEvent.id))  # no ORDER BY: PostgreSQL read them through an index by to_state
    ).all()
    assert moves[-1] == "completed"
    events = session.exec(select(Outbox.template_key).where(Outbox.kind == "event")).all()
    assert "donorflow.case.completed" in events
    with pytest.raises(IllegalTransitionError, match="不在随访阶段"):
        _record(session, case_id, "year_9")


def test_when_no_other_follow_up_is_open_the_one_answered_completes_the_case(session: Session) -> None:
    case_id = _case_at_follow_up(session)
    assert _record(session, case_id, "year_8") == "recorded"  # year 9 and 10 still open
    with transaction(session):
        for row in session.exec(select(FollowUp).where(FollowUp.case_id == case_id)).all():
            if row.label not in ("year-8", "year-9"):
                row.status = "lost" if row.label == "year-10" else "answered"
                session.add(row)
    assert _record(session, case_id, "year_9") == "advanced"
    case = session.get(DonorCase, case_id)
    assert case is not None and case.stage == "completed"


def test_early_unknown_and_missing_follow_ups_are_refused_clearly(session: Session) -> None:
    case_id = _case_at_follow_up(session, donated=date(2026, 3, 1))
    with pytest.raises(ValidationError, match="随访 year_1 应在 2027-03-01 进行"):
        _record(session, case_id, "year_1")
    with pytest.raises(ValidationError, match="unknown follow-up kind 'year_11'"):
        _record(session, case_id, "year_11")
    with pytest.raises(NotFoundError, match="no such case|does not exist"):
        _record(session, "no-such-case", "day_2")
    other = add_case(session, stage=CaseStage.FOLLOW_UP)
    with pytest.raises(NotFoundError, match="没有随访 has no follow-up day_2"):
        _record(session, other.id, "day_2")


def test_two_coordinators_at_once_give_one_completion_and_one_conflict(
    session: Session, engine: Engine
) -> None:
    """Both answer the last follow-up in their own connection, after both read the case."""
    case_id = _case_at_follow_up(session)

    def read(own: Session) -> DonorCase:
        loaded = own.get(DonorCase, case_id)
        assert loaded is not None
        return loaded  # held through the write: the version read stays the session's

    def write(own: Session, name: str, _seen: DonorCase) -> None:
        record_follow_up(
            session=own,
            case_id=case_id,
            kind="year_10",
            answer=_answer(coordinator=name),
            actor=f"coordinator:{name}",
            now=NOW,
        )

    outcomes, _ = two_coordinators_at_once(engine, read, write)
    assert outcomes == ["conflict", "won"]
    session.expire_all()
    completions = session.exec(
        select(StageEvent).where(StageEvent.case_id == case_id, StageEvent.to_state == "completed")
    ).all()
    assert len(completions) == 1
    answers = session.exec(
        select(StageEvent).where(StageEvent.case_id == case_id, col(StageEvent.entity) == "followup")
    ).all()
    assert len(answers) == 1
