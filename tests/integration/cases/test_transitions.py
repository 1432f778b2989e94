"""Case and registry transitions on a real database: audit, illegal moves, optimistic locking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import CaseStage, CloseReason, DonorCase, advance_case, close_case, open_case
from models.core import ConflictError, IllegalTransitionError, StageEvent, ValidationError, transaction
from models.registry import RegistryStatus, change_registry_status
from tests.factories import add_donor, add_search
from tests.races import two_coordinators_at_once


def _events(session: Session, case_id: str) -> list[StageEvent]:
    return list(
        session.exec(select(StageEvent).where(StageEvent.case_id == case_id).order_by(col(StageEvent.id)))
    )


def test_case_walks_the_whole_pipeline_and_every_step_is_audited(session: Session) -> None:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="coordinator:li")
    path = [
        CaseStage.REMOBILISING,
        CaseStage.HIGH_RES_TYPING,
        CaseStage.EXAM,
        CaseStage.DONATION,
        CaseStage.FOLLOW_UP,
        CaseStage.COMPLETED,
    ]
    for stage in path:
        case = advance_case(
            session=session,
            case_id=case.id,
            to=stage,
            actor="coordinator:li",
            expected_version=case.version,
            flow_run_id="run-1",
        )
    assert (case.stage, case.status, case.version) == ("completed", "closed", 7)
    trail = [(e.from_state, e.to_state) for e in _events(session, case.id)]
    assert trail == [
        (None, "screened"),
        ("screened", "remobilising"),
        ("remobilising", "high_res_typing"),
        ("high_res_typing", "exam"),
        ("exam", "donation"),
        ("donation", "follow_up"),
        ("follow_up", "completed"),
    ]


def test_opening_the_same_case_twice_returns_the_first_and_audits_once(session: Session) -> None:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    first = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    again = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    assert first.id == again.id
    assert len(_events(session, first.id)) == 1


def test_only_active_members_can_be_screened(session: Session) -> None:
    donor, search = add_donor(session, status="registered"), add_search(session)
    assert donor.id is not None
    with pytest.raises(ValidationError, match="not active"):
        open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")


def test_illegal_move_names_the_case_its_stage_and_the_allowed_moves(session: Session) -> None:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    with pytest.raises(IllegalTransitionError) as caught:
        advance_case(session=session, case_id=case.id, to=CaseStage.DONATION, actor="a")
    message = str(caught.value)
    assert case.id in message and "at screened" in message and "allowed: remobilising, close" in message
    session.refresh(case)
    assert (case.stage, case.version) == ("screened", 1)
    assert len(_events(session, case.id)) == 1


def test_closed_case_cannot_move_or_close_again(session: Session) -> None:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    case = close_case(
        session=session,
        case_id=case.id,
        reason=CloseReason.UNREACHABLE,
        actor="a",
        note="three calls, no answer",
    )
    assert (case.status, case.closed_reason, case.stage) == ("closed", "unreachable", "screened")
    with pytest.raises(IllegalTransitionError, match="allowed: none"):
        close_case(session=session, case_id=case.id, reason=CloseReason.DECLINED, actor="a")
    with pytest.raises(IllegalTransitionError):
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="a")
    assert [e.to_state for e in _events(session, case.id)] == ["screened", "closed"]


def test_stale_version_is_a_conflict_and_writes_nothing(session: Session) -> None:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="a", expected_version=1)
    with pytest.raises(ConflictError, match="changed by someone else"):
        close_case(
            session=session, case_id=case.id, reason=CloseReason.DECLINED, actor="b", expected_version=1
        )
    session.refresh(case)
    assert (case.status, case.version) == ("active", 2)
    assert len(_events(session, case.id)) == 2


def test_second_coordinator_gets_conflict_not_double_transition(session: Session, engine: Engine) -> None:
    """Two coordinators answer the same case at the same moment, each in their own connection."""
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    # The commit expired `case`: read its id here, so the threads never lazy-load through this session.
    case_id = case.id

    def read(own: Session) -> DonorCase:
        loaded = own.get(DonorCase, case_id)
        assert loaded is not None
        return loaded  # held through the write: the session keeps the version read, as a form does

    def write(own: Session, name: str, loaded: DonorCase) -> None:
        advance_case(
            session=own,
            case_id=case_id,
            to=CaseStage.REMOBILISING,
            actor=f"coordinator:{name}",
            expected_version=loaded.version,
        )

    outcomes, _ = two_coordinators_at_once(engine, read, write)
    assert outcomes == ["conflict", "won"]
    session.expire_all()
    moves = [e for e in _events(session, case_id) if e.to_state == "remobilising"]
    assert len(moves) == 1
    refreshed = session.get(DonorCase, case_id)
    assert refreshed is not None and refreshed.version == 2


def test_registry_status_moves_are_checked_and_audited(session: Session) -> None:
    donor = add_donor(session, status="registered")
    at = datetime(2021, 6, 1, tzinfo=UTC)
    change_registry_status(session=session, donor=donor, to=RegistryStatus.ACTIVE, actor="lab", at=at)
    with pytest.raises(ValidationError, match="needs an `until`"):
        change_registry_status(session=session, donor=donor, to=RegistryStatus.DEFERRED, actor="a")
    with pytest.raises(IllegalTransitionError, match="allowed: deceased, deferred, retired, withdrawn"):
        change_registry_status(session=session, donor=donor, to=RegistryStatus.REGISTERED, actor="a")
    events = session.exec(select(StageEvent).where(StageEvent.donor_id == donor.id)).all()
    assert [(e.from_state, e.to_state, e.at) for e in events] == [("registered", "active", at)]


def test_close_note_is_masked_in_the_audit_log(session: Session) -> None:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="a")
    close_case(
        session=session,
        case_id=case.id,
        reason=CloseReason.DECLINED,
        actor="a",
        note="family says call 13812345678 instead",
    )
    event = session.exec(select(StageEvent).where(StageEvent.to_state == "closed")).one()
    assert event.reason == "declined: family says call 138****5678 instead"
