"""Use cases that move a case: each writes the change and its StageEvent in the caller's transaction.

Every move checks the `version` column with a conditional UPDATE, so two coordinators answering the same
case at once give exactly one transition and one ConflictError — on SQLite and PostgreSQL alike.

A case entering a stage also enqueues `donorflow.case.<stage>` in the outbox, in the same transaction
(issue 10 item 2): the relay (flows/relay.py) emits it after the commit, and the next stage's deployment
trigger starts its flow. A rolled-back move leaves no event; a crash after the commit leaves it pending.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.cases.pipeline import (
    CASE_MOVES,
    CLOSABLE_STAGES,
    CaseStage,
    CaseStatus,
    CloseReason,
    allowed_case_moves,
)
from models.cases.tables import DonorCase, PatientSearch
from models.core import (
    ConflictError,
    IllegalTransitionError,
    NotFoundError,
    StageEvent,
    ValidationError,
    audit_event,
    utcnow,
)
from models.outreach import enqueue_event
from models.registry import Donor, RegistryStatus

__all__ = [
    "advance_case",
    "announce_stage",
    "case_events_prefix",
    "case_id_for",
    "close_case",
    "get_case",
    "open_case",
]

_CASE_NAMESPACE = uuid.UUID("6f1d3c2e-0b7a-4c51-9d6e-2a7f5e8b9c10")  # donorflow cases


def get_case(*, session: Session, case_id: str) -> DonorCase:
    case = session.get(DonorCase, case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} does not exist")
    return case


def open_case(
    *,
    session: Session,
    search_id: str,
    donor_id: int,
    actor: str,
    at: datetime | None = None,
    flow_run_id: str | None = None,
) -> DonorCase:
    """Initial screening (初筛): the member is a candidate for the search. Idempotent per (search, member).

    The case id is derived from (search, member), so the same screening always yields the same id.
    """
    existing = session.exec(
        select(DonorCase).where(DonorCase.search_id == search_id, DonorCase.donor_id == donor_id)
    ).first()
    if existing is not None:
        return existing
    if session.get(PatientSearch, search_id) is None:
        raise NotFoundError(f"patient search {search_id} does not exist")
    donor = session.get(Donor, donor_id)
    if donor is None:
        raise NotFoundError(f"member {donor_id} does not exist")
    if donor.status != RegistryStatus.ACTIVE:
        raise ValidationError(f"member {donor.code} is {donor.status}, not active: cannot be screened")
    when = at or utcnow()
    case = DonorCase(
        id=case_id_for(search_id, donor_id),
        search_id=search_id,
        donor_id=donor_id,
        stage_entered_at=when,
        opened_at=when,
    )
    session.add(case)
    session.flush()
    session.add(_case_event(case, None, CaseStage.SCREENED, when, actor, None, flow_run_id))
    session.flush()
    session.refresh(case)
    return case


def advance_case(
    *,
    session: Session,
    case_id: str,
    to: CaseStage,
    actor: str,
    expected_version: int | None = None,
    at: datetime | None = None,
    reason: str | None = None,
    flow_run_id: str | None = None,
    due_at: datetime | None = None,
    announce: bool = True,
) -> DonorCase:
    """Move an active case one step down the pipeline, and enqueue its `donorflow.case.<stage>` event.

    `announce=False` only for a replay of past moves (the demo year): no flow is to start for them.
    """
    case = get_case(session=session, case_id=case_id)
    stage, status = CaseStage(case.stage), CaseStatus(case.status)
    if status is CaseStatus.CLOSED or to not in CASE_MOVES[stage]:
        raise IllegalTransitionError(
            f"case {case_id} is {status.value} at {stage.value}: cannot move to {to.value}; "
            f"allowed: {', '.join(allowed_case_moves(stage, status)) or 'none'}"
        )
    when = at or utcnow()
    values = {"stage": to.value, "stage_entered_at": when, "due_at": due_at}
    if to is CaseStage.COMPLETED:
        values["status"] = CaseStatus.CLOSED.value
    event = _case_event(case, stage, to, when, actor, reason, flow_run_id)
    moved = _write_case_move(session, case, expected_version, values, event)
    if announce:
        announce_stage(session=session, case=moved)
    return moved


def case_events_prefix(case_id: str) -> str:
    """The start of the idempotency key of every event of one case (the relay takes them by it)."""
    return f"event:case:{case_id}:"


def announce_stage(*, session: Session, case: DonorCase) -> None:
    """Enqueue `donorflow.case.<stage>` for the stage the case is in now, in the caller's transaction.

    The key names the case, the stage and the case's version after the move: one event per transition,
    and the same transition replayed (a re-run after a suspend) adds none. Resource labels are strings
    (PREFECT.md), and carry ids only: no personal data goes to Prefect.
    """
    resource = {"prefect.resource.id": f"donorflow.case.{case.id}", "case_id": case.id, "stage": case.stage}
    enqueue_event(
        session=session,
        event=f"donorflow.case.{case.stage}",
        resource=resource,
        key=f"{case_events_prefix(case.id)}{case.stage}:v{case.version}",
    )


def close_case(
    *,
    session: Session,
    case_id: str,
    reason: CloseReason,
    actor: str,
    expected_version: int | None = None,
    at: datetime | None = None,
    note: str | None = None,
    flow_run_id: str | None = None,
) -> DonorCase:
    """End a case early with a reason: unreachable, declined, medical deferral, not selected, …"""
    case = get_case(session=session, case_id=case_id)
    stage, status = CaseStage(case.stage), CaseStatus(case.status)
    if status is CaseStatus.CLOSED or stage not in CLOSABLE_STAGES:
        raise IllegalTransitionError(
            f"case {case_id} is {status.value} at {stage.value}: cannot close; "
            f"allowed: {', '.join(allowed_case_moves(stage, status)) or 'none'}"
        )
    when = at or utcnow()
    # A coordinator's note is free text: ID and phone numbers typed into it are masked in the audit log.
    event_reason = reason.value if not note else f"{reason.value}: {note}"
    event = audit_event(
        entity="case",
        donor_id=case.donor_id,
        case_id=case.id,
        from_state=stage.value,
        from_state_since=case.stage_entered_at,
        to_state="closed",
        at=when,
        actor=actor,
        reason=event_reason,
        flow_run_id=flow_run_id,
    )
    values = {"status": CaseStatus.CLOSED.value, "closed_reason": reason.value, "due_at": None}
    return _write_case_move(session, case, expected_version, values, event)


def _write_case_move(
    session: Session,
    case: DonorCase,
    expected_version: int | None,
    values: Mapping[str, object],
    event: StageEvent,
) -> DonorCase:
    """The conditional UPDATE on the version read: another writer in between → ConflictError, and the
    caller's transaction rolls back whatever the step wrote before."""
    version = case.version if expected_version is None else expected_version
    if version != case.version:
        raise _conflict(case, version)
    result = session.exec(
        update(DonorCase)
        .where(col(DonorCase.id) == case.id, col(DonorCase.version) == version)
        .values(**values, version=version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise _conflict(case, version)
    session.add(event)
    session.flush()
    session.refresh(case)
    return case


def case_id_for(search_id: str, donor_id: int) -> str:
    """A case's id: stable for (search, member), so replays and re-runs name the same case."""
    return str(uuid.uuid5(_CASE_NAMESPACE, f"{search_id}:{donor_id}"))


def _conflict(case: DonorCase, version: int) -> ConflictError:
    return ConflictError(
        f"case {case.id} was changed by someone else (you had version {version}); "
        "reload the case and answer again"
    )


def _case_event(
    case: DonorCase,
    from_stage: CaseStage | None,
    to: CaseStage,
    at: datetime,
    actor: str,
    reason: str | None,
    flow_run_id: str | None,
) -> StageEvent:
    return audit_event(
        entity="case",
        donor_id=case.donor_id,
        case_id=case.id,
        from_state=from_stage.value if from_stage else None,
        # The stage being left was entered then (read before the UPDATE moves stage_entered_at on).
        from_state_since=case.stage_entered_at if from_stage else None,
        to_state=to.value,
        at=at,
        actor=actor,
        reason=reason,
        flow_run_id=flow_run_id,
    )
