"""What every flow needs from the outside, injected by the composition root (donorflow/deployments.py):
a session factory and a few settings. Flows never read settings themselves (DESIGN.md §1).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound, Pause
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import create_flow_run_input, delete_flow_run_input, read_flow_run_input
from prefect.logging import get_run_logger
from pydantic import Field, TypeAdapter, create_model

import hla
from hla.likelihood import HaplotypeSet
from models.accounts import coordinator_names
from models.cases import (
    Outcome,
    StepKey,
    alert_form_waiting,
    claim_case,
    describe_case,
    form_answered,
    form_defaults,
    masked_answer,
    release_case,
    replayed_outcome,
)
from models.core import DonorflowError, Session, SessionFactory, ValidationError, unit_of_work
from models.intake import ImportPolicy

__all__ = [
    "RELEASE_HOOKS",
    "FlowConfig",
    "FormText",
    "Step",
    "answer_step",
    "ask",
    "ask_until_valid",
    "config",
    "configure",
    "current_run_id",
    "describe",
    "escape_markdown",
    "finish",
    "holder_gone",
    "holder_waiting",
    "not_accepted",
    "prefilled",
    "release_when_run_ends",
    "run_link",
    "run_steps",
    "session",
    "stage_run",
]

F = TypeVar("F", bound=RunInput)
F_contra = TypeVar("F_contra", bound=RunInput, contravariant=True)


@dataclass(frozen=True)
class FlowConfig:
    session_factory: SessionFactory
    import_policy: ImportPolicy
    inbox_dir: Path
    max_contact_attempts: int = 3
    # Opens the registry's HLA index, up to date (the composition root knows where it is kept).
    hla_index: Callable[[Session], hla.HlaIndex] | None = None
    # The optional IMGT/HLA and MAC tables, loaded only when an ATLAS donor file needs them.
    hla_reference: Callable[[], hla.Reference | None] | None = None
    # The haplotype-frequency set for match likelihoods (None, or returning None: not computed).
    hla_haplotypes: Callable[[], HaplotypeSet | None] | None = None
    # Without a deployment a flow cannot suspend (the process would have nowhere to resume): it pauses
    # in-process instead, for this long. Deployed runs suspend and wait as long as it takes.
    pause_timeout_seconds: int = 3600
    pause_poll_seconds: int = 10
    # The Prefect UI as coordinators reach it (Settings.prefect_ui_url): the links in their alerts.
    prefect_ui_url: str = "http://127.0.0.1:4200"
    # TEST ONLY (DONORFLOW_FAULT_KILL_BEFORE_RELAY): called by `finish` after the stage committed and
    # released its case, before its events are relayed; the e2e test kills the flow's process there.
    before_relay: Callable[[], None] | None = None


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
    """One unit of work: a fresh session whose writes commit when the block ends, or roll back if it
    raises (the services never commit; each flow step owns its transaction)."""
    with unit_of_work(config().session_factory) as db_session:
        yield db_session


def run_link(run_id: str) -> str:
    """The page of a flow run in the Prefect UI, for a coordinator's alert."""
    return f"{config().prefect_ui_url}/runs/flow-run/{run_id}"


def current_run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def _deployed() -> bool:
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.deployment_id)


def not_accepted(problem: str) -> str:
    """The reason a re-asked form shows, in plain text (markdown is escaped where it is used). The problem
    is said once: our rules' messages are bilingual already (zh-CN first), so repeating it per language
    showed every reason twice (seen walking the follow-up form)."""
    return f"未接受 Not accepted: {problem} — 请修改后重新提交 Please correct and submit again."


_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>#|~])")


def escape_markdown(text: str) -> str:
    """`A*02:0x` shown as written in a markdown description, not as the start of an italic run."""
    return _MARKDOWN.sub(r"\\\1", text)


def prefilled(
    form: type[F],
    description: str,
    values: Mapping[str, Any],
    note: str = "",
    coordinators: Sequence[str] = (),
) -> type[F]:
    """The form with `values` shown filled in, and `note` (markdown) on top of the coordinator field.

    Like RunInput.with_initial_data, but keeping each field's title, description and position
    (with_initial_data rebuilds the fields from their annotations alone, and the form loses its labels),
    and keeping the form's `required` list: a required field gets its value as the schema's default
    only (what the UI shows), never as a pydantic default, so a field the coordinator empties is refused
    by the server's schema check instead of coming back as the previous answer (an audit log naming the
    wrong coordinator).

    `note` goes into the coordinator field's description because Prefect's default (V1) resume dialog
    squeezes the markdown description of a long form to nothing, while it always shows field descriptions.

    `coordinators`: the names the coordinator field offers (a dropdown: `Literal[...]`, issue 12 item 8),
    so the audit log names each person the one way their login does; empty (no staff in the database
    yet: a fresh install, the tests) leaves the free-text field. A previous answer naming someone no
    longer on the list is not shown: the coordinator picks again.
    """
    fields: dict[str, Any] = {}
    for name in {*values, *(["coordinator"] if note or coordinators else [])}:
        original = form.model_fields[name]
        info = copy.copy(original)
        if name in values:
            value = values[name]
            if original.is_required():
                shown = TypeAdapter[Any](original.annotation or Any).dump_python(value, mode="json")
                extra = original.json_schema_extra if isinstance(original.json_schema_extra, dict) else {}
                info.json_schema_extra = {**extra, "default": shown}
            else:
                info.default, info.default_factory = value, None
        if name == "coordinator" and note:
            info.description = f"{note}\n\n{original.description or ''}".strip()
        if name == "coordinator" and coordinators:
            fields[name] = _coordinator_choice(info, values.get(name), coordinators, note)
            continue
        fields[name] = (original.annotation, info)
    model = create_model(form.__name__, __base__=form, **fields)
    model._description = description  # what with_initial_data sets
    return model


_PICK_YOUR_NAME = (
    "请选择您的名字：记入本案例的审计日志（名单来自工作台的协调员与管理员账号）。"
    " Pick your name: it goes into the case's audit log (the workbench's coordinators and admins)."
)


def _coordinator_choice(info: Any, previous: object, names: Sequence[str], note: str) -> tuple[Any, Any]:
    """The coordinator field as a dropdown of `names`, keeping its title and position; required, and
    shown filled in with the previous answer only when that name is still on the list."""
    extra = dict(info.json_schema_extra) if isinstance(info.json_schema_extra, dict) else {}
    extra.pop("default", None)
    if isinstance(previous, str) and previous in names:
        extra["default"] = previous
    description = f"{note}\n\n{_PICK_YOUR_NAME}".strip() if note else _PICK_YOUR_NAME
    choice: Any = Literal.__getitem__(tuple(names))
    return choice, Field(title=info.title, description=description, json_schema_extra=extra)


def _coordinators() -> list[str]:
    """Active coordinators and admins, read when a form is shown (a new colleague appears at once)."""
    with session() as db_session:
        return coordinator_names(session=db_session)


def ask(
    form: type[F],
    key: str,
    description: str,
    previous: F | None = None,
    note: str = "",
    waiting: FormText | None = None,
) -> F:
    """Wait for a coordinator's answer in the UI: suspend when deployed (days), else pause in-process.

    The form shows today's dates (Shanghai) in its pickers and, when asked again, the previous answer.
    The answer comes back with ID and phone numbers masked in its free text, and Prefect keeps only that.
    For a case's form (`waiting` names the case), the coordinators are alerted that it waits.
    """
    initial: dict[str, Any] = form_defaults(form)
    if previous is not None:
        initial |= {name: getattr(previous, name) for name in form.model_fields}
    with_initial = prefilled(form, description, initial, note, coordinators=_coordinators())
    if waiting is not None and waiting.case_id is not None:
        _alert_waiting(waiting.case_id, key, waiting.what)
    if _deployed():
        answer = suspend_flow_run(wait_for_input=with_initial, key=key)
    else:
        settings = config()
        answer = pause_flow_run(
            wait_for_input=with_initial,
            key=key,
            timeout=settings.pause_timeout_seconds,
            poll_interval=settings.pause_poll_seconds,
        )
    assert answer is not None
    if waiting is not None and waiting.case_id is not None:
        _alert_answered(key)
    return _keep_masked(answer)


def _alert_waiting(case_id: str, key: str, what: str) -> None:
    """Tell the coordinators the form waits, committed before the run suspends (or pauses). A resumed run
    re-asks its answered forms under the same keys and alerts nothing new (alerts.alert_form_waiting)."""
    run_id = current_run_id()
    if run_id is None:
        return
    with session() as db_session:
        alert_form_waiting(
            session=db_session, case_id=case_id, run_id=run_id, form_key=key, form=what, link=run_link(run_id)
        )


def _alert_answered(key: str) -> None:
    """The form was answered: its waiting alert, if still unsent, is not sent any more."""
    run_id = current_run_id()
    if run_id is None:
        return
    with session() as db_session:
        form_answered(session=db_session, run_id=run_id, form_key=key)


def _keep_masked(answer: F) -> F:
    """Replace the run input Prefect stored for this answer by its masked, complete form.

    Complete: a re-run after a suspend replays exactly this answer (defaults included), not defaults
    computed again on another day. Masked: free text typed by a coordinator keeps no ID or phone numbers.
    """
    masked = masked_answer(answer)
    value = masked.model_dump(mode="json")
    key = answer.metadata.key
    run_id = answer.metadata.receiver
    if read_flow_run_input(key, flow_run_id=run_id) != value:
        delete_flow_run_input(key, flow_run_id=run_id)
        create_flow_run_input(key, value, flow_run_id=run_id)
    return masked


@dataclass(frozen=True)
class FormText:
    """What a form shows about its case: markdown above the form, and the same in one line of plain text
    that goes (escaped) on top of the coordinator field, the one place every Prefect resume dialog shows."""

    markdown: str
    line: str
    case_id: str | None = None  # the case the form is about: the coordinators are alerted that it waits
    what: str = ""  # what the form asks, in one line (the alert's `form`)


def _asked_before(key: str) -> bool:
    """Whether this run already showed the form `key`: a suspended flow replaying from the top meets
    its earlier answers again, and the rejection that led to `key` was logged when it was new."""
    run_id = current_run_id()
    if run_id is None or not _deployed():
        return False
    # suspend_flow_run keeps a form under "suspended-<key>" (prefect.flow_runs)
    return read_flow_run_input(f"suspended-{key}-schema", flow_run_id=UUID(run_id)) is not None


def ask_until_valid(
    form: type[F], key: str, text: FormText, apply: Callable[[Session, F], Outcome]
) -> Outcome:
    """Ask, apply the answer through a models/ service, and on a broken rule ask again with the reason,
    the form filled in with the previous answer (the coordinator corrects one field, not eight).

    After a suspend the flow re-runs from the top: earlier answers come back under their keys, fail or
    replay exactly as before, and the loop reaches the new answer. The case is never left half-changed.
    A rejected answer is a warning in the run's log, once: a replayed answer's rejection was logged when
    it was new. The run goes on, and the next answer may be right.
    """
    logger = get_run_logger()
    problem = ""
    previous: F | None = None
    for attempt in range(1, 100):
        markdown, note = text.markdown, escape_markdown(text.line)
        if problem:
            reason = f"**{escape_markdown(not_accepted(problem))}**"
            markdown, note = f"{reason}\n\n{markdown}", f"{reason}\n\n{note}"
        answer = ask(form, f"{key}-{attempt}", markdown, previous, note, waiting=text)
        try:
            with session() as db_session:
                return apply(db_session, answer)
        except ValidationError as exc:
            problem, previous = str(exc).rstrip("."), answer
            if not _asked_before(f"{key}-{attempt + 1}"):
                logger.warning("answer %d to %s not accepted: %s", attempt, key, problem)
    raise ValidationError(f"{key}: too many answers not accepted")


@contextmanager
def stage_run(case_id: str, flow_name: str) -> Iterator[str]:
    """Hold the case for this run: claimed at the start (a second live run is refused, a stale claim of a
    run that ended is taken over), kept while the run is suspended, released when the run ends or fails.
    A run cancelled, crashed or killed outside this process is released by RELEASE_HOOKS or found stale."""
    run_id = current_run_id() or f"local-{flow_name}"
    with session() as db_session:
        try:
            claim_case(
                session=db_session,
                case_id=case_id,
                flow_run_id=run_id,
                holder_gone=holder_gone,
                holder_waiting=holder_waiting,
                actor=f"flow:{flow_name}",
            )
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


# The states in which a run will never answer its form again: its claim on a case is stale. Cancelling
# counts: a coordinator asked for it (a run whose process was killed stays Running until cancelled).
_GONE = {StateType.CANCELLED, StateType.CANCELLING, StateType.CRASHED, StateType.FAILED, StateType.COMPLETED}


def holder_gone(run_id: str) -> str | None:
    """Why the flow run `run_id` no longer holds its case (its state, or that it does not exist), or
    None while it runs, waits for an answer or is scheduled to resume."""
    try:
        flow_run_id = UUID(run_id)
    except ValueError:
        return None  # not a Prefect run id: cannot tell, keep the claim
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(flow_run_id).state
        except ObjectNotFound:
            return "it does not exist"
    if state is None or state.type not in _GONE:
        return None
    return state.name or state.type.value


def holder_waiting(run_id: str) -> str | None:
    """The flow run `run_id` as "name (id)" while it waits for a coordinator's answer (paused or
    suspended), else None."""
    try:
        flow_run_id = UUID(run_id)
    except ValueError:
        return None
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(flow_run_id)
        except ObjectNotFound:
            return None
    if run.state is None or run.state.type != StateType.PAUSED:
        return None
    return f"{run.name} ({run_id})"


def release_when_run_ends(flow: Any, flow_run: FlowRun, state: State[Any]) -> None:
    """State hook of every stage flow (cancelled, crashed, failed): free the case this run held.

    Runs in the flow's process (failure), or in the served process that cancels or saw it crash. A
    suspended run cancelled in the UI has no process left: the server cancels it directly and no hook
    runs; the next stage run finds the claim stale instead (holder_gone).
    """
    case_id = str(flow_run.parameters.get("case_id", ""))
    with session() as db_session:
        released = release_case(
            session=db_session,
            case_id=case_id,
            flow_run_id=str(flow_run.id),
            actor=f"flow:{flow.name}",
            reason=f"run {state.name or state.type.value}",
        )
    if released:
        logging.getLogger("donorflow.flows").info("case %s released: run %s", case_id, state.name)


RELEASE_HOOKS: dict[str, Any] = {
    "on_cancellation": [release_when_run_ends],
    "on_crashed": [release_when_run_ends],
    "on_failure": [release_when_run_ends],
}


def describe(case_id: str, what: str) -> FormText:
    """What a form shows about its case: which case, which member (code only), which patient."""
    with session() as db_session:
        case = describe_case(session=db_session, case_id=case_id)
    code, patient, stage = case.member_code, case.patient, case.stage
    line = (
        f"{what} · 案例 case {case_id} · 志愿者 member {code} · 患者 patient {patient} · 阶段 stage {stage}"
    )
    markdown = (
        f"### {escape_markdown(what)}\n\n案例 Case `{case_id}` · 志愿者 member **{escape_markdown(code)}** · "
        f"患者 patient {escape_markdown(patient)} · 阶段 stage `{stage}`.\n\n"
        f"联系方式 Contact details: `donorflow donors show {code}`"
        "（此处不显示：Prefect 中不存放个人信息 not shown here: no personal data in Prefect)."
    )
    return FormText(markdown, line, case_id=case_id, what=what)


def finish(case_id: str, outcome: Outcome) -> Outcome:
    """Log the outcome and relay the case's pending events: when the case moved on, its
    `donorflow.case.<stage>` (enqueued with the move, models/cases/transitions.py) starts the next stage.

    Called once the run has released the case, so the next stage's run can claim it at once. A crash
    before this leaves the event pending: the relay at restart, the dispatcher or `donorflow pipeline
    relay` emits it (flows/relay.py).
    """
    from flows.relay import relay_pending_events  # flows/relay.py builds on this module

    logger = get_run_logger()
    if outcome.replayed:
        logger.info(
            "case %s: this stage was answered before (now %s); nothing new to do", case_id, outcome.stage
        )
    elif outcome.result == "advanced":
        logger.info("case %s moved to %s", case_id, outcome.stage)
    elif outcome.result == "closed":
        logger.info("case %s closed at %s: %s", case_id, outcome.stage, outcome.closed_reason)
    if (fault := config().before_relay) is not None:
        fault()
    relay_pending_events(case_id=case_id)
    return outcome


class StageService(Protocol[F_contra]):
    def __call__(
        self, *, session: Session, case_id: str, answer: F_contra, flow_run_id: str | None
    ) -> Outcome: ...


def answer_step(
    case_id: str, run_id: str, form: type[F], key: StepKey, what: str, service: StageService[F]
) -> Outcome:
    """One coordinator step of a stage: show the form, apply the answer, ask again if a rule is broken.

    `key` is the step's record key in the database: a step answered before is not asked again.
    """
    with session() as db_session:
        done = replayed_outcome(session=db_session, case_id=case_id, step=key)
    if done is not None:
        return done

    def apply(db_session: Session, answer: F) -> Outcome:
        return service(session=db_session, case_id=case_id, answer=answer, flow_run_id=run_id)

    return ask_until_valid(form, key, describe(case_id, what), apply)


@dataclass(frozen=True)
class Step(Generic[F]):
    """One form of a stage: what it asks, under which record key, and the models/ service that applies it."""

    form: type[F]
    key: StepKey
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
