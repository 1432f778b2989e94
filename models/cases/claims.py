"""The one live stage run per case: a flow run claims its case, releases it, or takes over a stale claim.

Claims are compare-and-set UPDATEs in the caller's transaction (the flow's runtime commits each one).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import or_, update
from sqlmodel import Session, col

from models.cases.pipeline import CaseStatus
from models.cases.tables import DonorCase
from models.cases.transitions import get_case
from models.core import ConflictError, IllegalTransitionError, ValidationError, audit_event, utcnow

__all__ = ["CLAIM_ENTITY", "claim_case", "ensure_startable", "release_case", "release_claim"]

# Claims are audited as StageEvents of entity "claim" (the funnel counts only "case" and "donor" events):
# from_state is the case's stage, to_state what happened, flow_run_id the run that held the claim.
CLAIM_ENTITY = "claim"


def claim_case(
    *,
    session: Session,
    case_id: str,
    flow_run_id: str,
    holder_gone: Callable[[str], str | None] | None = None,
    holder_waiting: Callable[[str], str | None] | None = None,
    actor: str = "flow",
) -> DonorCase:
    """Mark the case as worked on by this flow run; a second live run on the same case is refused.

    A claim held by a run that no longer runs is stale: `holder_gone(run_id)` says why (e.g. "Cancelled",
    "does not exist") or None while that run may still answer. A stale claim is taken over, audited.
    `holder_waiting(run_id)` names a holder that waits for a coordinator's answer (or None): the refusal
    then sends the coordinator to that run's form, not to `donorflow cases release`.
    """
    case = get_case(session=session, case_id=case_id)
    if case.status != CaseStatus.ACTIVE:
        raise IllegalTransitionError(f"case {case_id} is closed ({case.closed_reason or case.stage})")
    if _set_claim(session, case_id, expected=None, flow_run_id=flow_run_id):
        session.refresh(case)
        return case
    session.refresh(case)
    holder = case.live_run_id
    why = holder_gone(holder) if holder and holder_gone is not None else None
    waiting = holder_waiting(holder) if holder and why is None and holder_waiting is not None else None
    if waiting is not None:
        raise ConflictError(
            f"case {case_id} is held by run {waiting}, which waits for an answer at stage {case.stage}: "
            "open that run in the Prefect UI and answer its form (or cancel it to start the stage again)"
        )
    if holder is None or why is None:
        raise ConflictError(
            f"case {case_id} already has a live stage run ({holder}): answer or cancel that run, "
            f"or release the case with `donorflow cases release {case_id} --reason ...`"
        )
    if not _set_claim(
        session,
        case_id,
        expected=holder,
        flow_run_id=flow_run_id,
        event=(case, "taken_over", actor, f"run {holder} is no longer running ({why})"[:200], holder),
    ):
        session.refresh(case)
        raise ConflictError(f"case {case_id} already has a live stage run ({case.live_run_id})")
    session.refresh(case)
    return case


def _set_claim(
    session: Session,
    case_id: str,
    *,
    expected: str | None,
    flow_run_id: str | None,
    event: tuple[DonorCase, str, str, str, str | None] | None = None,
) -> bool:
    """Compare-and-set the case's claim; with `event`, audit it in the same transaction."""
    statement = update(DonorCase).where(col(DonorCase.id) == case_id)
    if flow_run_id is not None and expected is None:
        held = or_(col(DonorCase.live_run_id).is_(None), col(DonorCase.live_run_id) == flow_run_id)
        statement = statement.where(held)
    elif expected is not None:
        statement = statement.where(col(DonorCase.live_run_id) == expected)
    changed = session.exec(statement.values(live_run_id=flow_run_id)).rowcount == 1
    if changed and event is not None:
        case, what, actor, reason, held_by = event
        session.add(
            audit_event(
                entity=CLAIM_ENTITY,
                donor_id=case.donor_id,
                case_id=case.id,
                from_state=case.stage,
                to_state=what,
                at=utcnow(),
                actor=actor,
                reason=reason,
                flow_run_id=held_by,
            )
        )
        session.flush()
    return changed


def release_case(
    *,
    session: Session,
    case_id: str,
    flow_run_id: str | None = None,
    actor: str = "",
    reason: str | None = None,
) -> bool:
    """Free the case for the next stage run; with `flow_run_id`, only if this run holds it.

    With a `reason` (a cancelled, crashed or failed run) the release is audited. True if it was held.
    """
    case = session.get(DonorCase, case_id)
    if case is None:
        return False
    holder = flow_run_id or case.live_run_id
    if holder is None:
        return False
    event = (case, "released", actor or "flow", reason, holder) if reason else None
    return _set_claim(session, case_id, expected=holder, flow_run_id=None, event=event)


def record_run_request(*, session: Session, case_id: str, flow_run_id: str, actor: str) -> None:
    """Audit that `actor` started a stage run for the case from the workbench (the run's own claim and
    stage move are audited as `flow:…`; this row names the person who asked for it). In the caller's
    transaction; a `claim` event, so the funnel does not count it."""
    case = get_case(session=session, case_id=case_id)
    session.add(
        audit_event(
            entity=CLAIM_ENTITY,
            donor_id=case.donor_id,
            case_id=case.id,
            from_state=case.stage,
            to_state="requested",
            at=utcnow(),
            actor=actor,
            reason="started from the workbench",
            flow_run_id=flow_run_id,
        )
    )
    session.flush()


def release_claim(*, session: Session, case_id: str, actor: str, reason: str) -> str:
    """A coordinator frees a stuck case (its run is gone or will never be answered); audited with who,
    when, why and which run held it. Returns that run's id."""
    if not reason.strip():
        raise ValidationError("a reason is required to release a case (it goes into the audit log)")
    case = get_case(session=session, case_id=case_id)
    holder = case.live_run_id
    if holder is None:
        raise ValidationError(f"case {case_id} is not claimed by any stage run: nothing to release")
    event = (case, "released", actor, reason.strip(), holder)
    if not _set_claim(session, case_id, expected=holder, flow_run_id=None, event=event):
        raise ConflictError(f"case {case_id} changed hands while releasing it: look again")
    return holder


def ensure_startable(*, session: Session, case_id: str, stage: str) -> DonorCase:
    """Before a coordinator starts a stage flow for a case (the dashboard's "start re-mobilisation"): the
    case is active, at `stage` and held by no run; otherwise a ValidationError or ConflictError saying why
    (the flow's own claim would refuse it too, but only after a run was made)."""
    case = get_case(session=session, case_id=case_id)
    if case.status != CaseStatus.ACTIVE:
        raise IllegalTransitionError(
            f"案例已结案 case {case_id} is closed ({case.closed_reason or case.stage})"
        )
    if case.stage != stage:
        raise IllegalTransitionError(
            f"案例处于 {case.stage} 阶段，不是 {stage} case {case_id} is at {case.stage}"
        )
    if case.live_run_id is not None:
        raise ConflictError(f"案例已有运行中的流程 case {case_id} is held by run {case.live_run_id}")
    return case
