"""What every flow needs from the outside, injected by the composition root (donorflow/deployments.py):
a session factory and a few settings. Flows never read settings themselves (DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.exceptions import Pause
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.logging import get_run_logger
from sqlmodel import Session

import hla
from models.cases import PatientSearch
from models.errors import DonorflowError, ValidationError
from models.registry import Donor
from models.signup_import import ImportPolicy
from models.stages import Outcome, claim_case, release_case, replayed_outcome
from models.transitions import get_case

__all__ = [
    "FlowConfig",
    "Step",
    "answer_step",
    "ask",
    "ask_until_valid",
    "config",
    "configure",
    "current_run_id",
    "describe",
    "emit_case_event",
    "finish",
    "run_steps",
    "session",
    "stage_run",
]

F = TypeVar("F", bound=RunInput)
F_contra = TypeVar("F_contra", bound=RunInput, contravariant=True)


@dataclass(frozen=True)
class FlowConfig:
    session_factory: Callable[[], Session]
    import_policy: ImportPolicy
    inbox_dir: Path
    max_contact_attempts: int = 3
    # Opens the registry's HLA index, up to date (the composition root knows where it is kept).
    hla_index: Callable[[Session], hla.HlaIndex] | None = None
    # Without a deployment a flow cannot suspend (the process would have nowhere to resume): it pauses
    # in-process instead, for this long. Deployed runs suspend and wait as long as it takes.
    pause_timeout_seconds: int = 3600
    pause_poll_seconds: int = 10


_config: FlowConfig | None = None


def configure(flow_config: FlowConfig) -> None:
    global _config
    _config = flow_config


def config() -> FlowConfig:
    if _config is None:
        raise RuntimeError("donorflow flows are not wired: run them through donorflow/deployments.py")
    return _config


@contextmanager
def session() -> Iterator[Session]:
    with config().session_factory() as db_session:
        yield db_session


def current_run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def _deployed() -> bool:
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.deployment_id)


def ask(form: type[F], key: str, description: str) -> F:
    """Wait for a coordinator's answer in the UI: suspend when deployed (days), else pause in-process."""
    with_description = form.with_initial_data(description=description)
    if _deployed():
        answer = suspend_flow_run(wait_for_input=with_description, key=key)
    else:
        settings = config()
        answer = pause_flow_run(
            wait_for_input=with_description,
            key=key,
            timeout=settings.pause_timeout_seconds,
            poll_interval=settings.pause_poll_seconds,
        )
    assert answer is not None
    return answer


def ask_until_valid(
    form: type[F], key: str, description: str, apply: Callable[[Session, F], Outcome]
) -> Outcome:
    """Ask, apply the answer through a models/ service, and on a broken rule ask again with the reason.

    After a suspend the flow re-runs from the top: earlier answers come back under their keys, fail or
    replay exactly as before, and the loop reaches the new answer. The case is never left half-changed.
    """
    logger = get_run_logger()
    problem = ""
    for attempt in range(1, 100):
        text = (
            description
            if not problem
            else f"**Not accepted: {problem}.** Please answer again.\n\n{description}"
        )
        answer = ask(form, f"{key}-{attempt}", text)
        try:
            with session() as db_session:
                return apply(db_session, answer)
        except ValidationError as exc:
            problem = str(exc)
            logger.error("answer %d to %s not accepted: %s", attempt, key, problem)
    raise ValidationError(f"{key}: too many answers not accepted")


def emit_case_event(case_id: str, stage: str) -> None:
    """`donorflow.case.<stage>`: deployment triggers start the next stage's flow for this case."""
    emit_event(
        event=f"donorflow.case.{stage}",
        resource={"prefect.resource.id": f"donorflow.case.{case_id}", "case_id": case_id, "stage": stage},
    )


@contextmanager
def stage_run(case_id: str, flow_name: str) -> Iterator[str]:
    """Hold the case for this run: claimed at the start (a second live run is refused), kept while the
    run is suspended, released when the run ends or fails."""
    run_id = current_run_id() or f"local-{flow_name}"
    with session() as db_session:
        try:
            claim_case(session=db_session, case_id=case_id, flow_run_id=run_id)
        except DonorflowError as exc:
            get_run_logger().error("%s: %s", flow_name, exc)
            raise
    try:
        yield run_id
    except Pause:
        raise
    except BaseException:
        with session() as db_session:
            release_case(session=db_session, case_id=case_id, flow_run_id=run_id)
        raise
    with session() as db_session:
        release_case(session=db_session, case_id=case_id, flow_run_id=run_id)


def describe(case_id: str, what: str) -> str:
    """The markdown shown above a form: which case, which member (code only), which patient."""
    with session() as db_session:
        case = get_case(session=db_session, case_id=case_id)
        donor = db_session.get(Donor, case.donor_id)
        search = db_session.get(PatientSearch, case.search_id)
        code = donor.code if donor else "?"
        patient = f"{search.patient_code} at {search.centre}" if search else "?"
    return (
        f"### {what}\n\nCase `{case_id}` · member **{code}** · patient {patient} · stage `{case.stage}`.\n\n"
        f"Contact details: `donorflow donors show {code}` (not shown here: no personal data in Prefect)."
    )


def finish(case_id: str, outcome: Outcome) -> Outcome:
    """Log the outcome and, when the case moved on, emit the event that starts the next stage."""
    logger = get_run_logger()
    if outcome.replayed:
        logger.info(
            "case %s: this stage was answered before (now %s); nothing new to do", case_id, outcome.stage
        )
    elif outcome.result == "advanced":
        emit_case_event(case_id, outcome.stage)
        logger.info("case %s moved to %s", case_id, outcome.stage)
    elif outcome.result == "closed":
        logger.info("case %s closed at %s: %s", case_id, outcome.stage, outcome.closed_reason)
    return outcome


class StageService(Protocol[F_contra]):
    def __call__(
        self, *, session: Session, case_id: str, answer: F_contra, flow_run_id: str | None
    ) -> Outcome: ...


def answer_step(
    case_id: str, run_id: str, form: type[F], key: str, what: str, service: StageService[F]
) -> Outcome:
    """One coordinator step of a stage: show the form, apply the answer, ask again if a rule is broken.

    `key` is the step's record key in the database: a step answered before is not asked again.
    """
    with session() as db_session:
        done = replayed_outcome(session=db_session, case_id=case_id, key=key)
    if done is not None:
        return done

    def apply(db_session: Session, answer: F) -> Outcome:
        return service(session=db_session, case_id=case_id, answer=answer, flow_run_id=run_id)

    return ask_until_valid(form, key, describe(case_id, what), apply)


@dataclass(frozen=True)
class Step(Generic[F]):
    """One form of a stage: what it asks, under which record key, and the models/ service that applies it."""

    form: type[F]
    key: str
    what: str
    service: StageService[F]


def run_steps(case_id: str, flow_name: str, *steps: Step[Any]) -> str:
    """A stage as a sequence of forms; the last answer decides where the case goes next."""
    with stage_run(case_id, flow_name) as run_id:
        outcome = Outcome("recorded", "")
        for step in steps:
            outcome = answer_step(case_id, run_id, step.form, step.key, step.what, step.service)
    # The event goes out after the case is released, so the next stage's run can claim it at once.
    return finish(case_id, outcome).result
