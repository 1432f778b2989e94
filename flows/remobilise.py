"""再动员: bring a matched member back — contact, consent, health and availability — with the coordinator."""

from __future__ import annotations

from prefect import flow

from flows.forms import ContactForm
from flows.runtime import RELEASE_HOOKS, ask_until_valid, config, describe, finish, session, stage_run
from models.cases import CaseStage, Outcome, StepKey, enter_stage, record_contact, start_contact_attempt
from models.core import Session

__all__ = ["remobilise"]


@flow(name="remobilise", flow_run_name="remobilise-case-{case_id}", persist_result=True, **RELEASE_HOOKS)
def remobilise(case_id: str) -> str:
    """Re-mobilise the member of a screened case: a message goes out, then you record each contact attempt.

    Args:
        case_id: 要处理的案例编号（见初筛运行的结果表）。
            The case to work on (from the initial-screening run's table).
    """
    with stage_run(case_id, "remobilise") as run_id:
        with session() as db_session:
            enter_stage(
                session=db_session,
                case_id=case_id,
                stage=CaseStage.REMOBILISING,
                actor="flow:remobilise",
                flow_run_id=run_id,
            )
        attempts = config().max_contact_attempts
        outcome = Outcome("retry", CaseStage.REMOBILISING.value)
        for attempt in range(1, attempts + 1):
            with session() as db_session:
                start_contact_attempt(session=db_session, case_id=case_id, attempt=attempt)
            text = describe(
                case_id,
                f"第 {attempt}/{attempts} 次联系：联系上志愿者了吗？ "
                f"Contact attempt {attempt} of {attempts}: did you reach the member?",
            )

            def apply(db_session: Session, answer: ContactForm, attempt: int = attempt) -> Outcome:
                return record_contact(
                    session=db_session,
                    case_id=case_id,
                    attempt=attempt,
                    answer=answer,
                    max_attempts=attempts,
                    flow_run_id=run_id,
                )

            outcome = ask_until_valid(ContactForm, StepKey.CONTACT.record_key(attempt), text, apply)
            if outcome.result != "retry":
                break
    # The event goes out after the case is released, so the next stage's run can claim it at once.
    return finish(case_id, outcome).result
