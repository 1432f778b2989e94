"""随访: one follow-up after a stem-cell donation — the donor's answers, and any serious adverse event or
reaction (WMDA S(P)EAR), recorded through models.reminders (issue 11 item 2)."""

from __future__ import annotations

from prefect import flow
from prefect.logging import get_run_logger

from flows.forms import FollowUpForm
from flows.runtime import (
    RELEASE_HOOKS,
    ask_until_valid,
    describe,
    finish,
    run_link,
    session,
    stage_run,
)
from models.cases import Outcome
from models.cases.steps import actor_of
from models.core import DonorflowError, Session
from models.reminders import (
    FollowUpKind,
    follow_up_label,
    follow_up_to_answer,
    record_follow_up,
    recorded_follow_up,
)

__all__ = ["follow_up"]


@flow(
    name="follow-up",
    flow_run_name="follow-up-case-{case_id}-{kind}",
    persist_result=True,  # needed to suspend; the result is "recorded" or "advanced", no personal data
    **RELEASE_HOOKS,
)
def follow_up(case_id: str, kind: FollowUpKind) -> str:
    """Record one follow-up's answers: recovered? symptoms, days off work, medication, and any S(P)EAR.

    Args:
        case_id: 处于随访阶段的案例编号。 The case at follow-up.
        kind: 哪一次随访（捐献后第 2 天、第 1 周、第 1 月、第 6 月、第 1–10 年）。 Which follow-up.
    """
    try:  # a wrong kind fails the run at once, before the case is claimed or a form shown
        follow_up_label(kind)
    except DonorflowError as exc:
        get_run_logger().error("follow-up: %s", exc)
        raise
    with stage_run(case_id, "follow-up") as run_id:
        outcome = _answer(case_id, kind, run_id)
    return finish(case_id, outcome).result


def _answer(case_id: str, kind: str, run_id: str) -> Outcome:
    """The answer this run recorded before (a re-run after a suspend), or a new one from the form."""
    with session() as db_session:
        try:
            done = recorded_follow_up(session=db_session, case_id=case_id, kind=kind, flow_run_id=run_id)
            if done is None:
                follow_up_to_answer(session=db_session, case_id=case_id, kind=kind)
        except DonorflowError as exc:
            get_run_logger().error("follow-up %s of case %s: %s", kind, case_id, exc)
            raise
    if done is not None:
        return done

    def apply(db_session: Session, answer: FollowUpForm) -> Outcome:
        return record_follow_up(
            session=db_session,
            case_id=case_id,
            kind=kind,
            answer=answer,
            actor=actor_of(answer),
            flow_run_id=run_id,
            link=run_link(run_id),
        )

    what = f"随访 {kind} Follow-up {kind}"
    # A pause key takes lowercase letters, digits and dashes only: the row's label (month-1), not the kind.
    key = f"follow-up-{follow_up_label(kind)}"
    return ask_until_valid(FollowUpForm, key, describe(case_id, what), apply)
