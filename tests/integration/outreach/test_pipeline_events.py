"""The pipeline's events through the outbox, on SQLite and PostgreSQL: enqueued with the move, relayed
after the commit, emitted once per transition (models/outreach/events.py, models/cases/transitions.py).

The emitter is injected: a list that records what would have gone to Prefect (flows/relay.py holds the
Prefect call; tests/flows and tests/e2e prove that one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.cases import (
    CaseStage,
    ContactAnswer,
    DonorCase,
    advance_case,
    case_events_prefix,
    enter_stage,
    open_case,
    record_contact,
    screen_candidates,
)
from models.core import TransientDeliveryError, ValidationError, transaction, unit_of_work, utcnow
from models.outreach import (
    EVENT_LEASE,
    Outbox,
    PipelineEvent,
    claim_events,
    count_pending_events,
    mark_emitted,
    relay_events,
)
from tests.factories import add_donor, add_search


def _events(session: Session) -> list[Outbox]:
    session.expire_all()
    return list(session.exec(select(Outbox).where(Outbox.kind == "event").order_by(col(Outbox.id))))


def _screened(session: Session) -> DonorCase:
    """A case opened directly (as the demo year and tests do): no event of its own."""
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
    return case


def _units(engine: Engine) -> Callable[[], AbstractContextManager[Session]]:
    return lambda: unit_of_work(lambda: Session(engine))


class Recorder:
    """The injected emitter: what reached "Prefect", in order; `fail` makes the next call fail."""

    def __init__(self) -> None:
        self.sent: list[PipelineEvent] = []
        self.fail = False

    def __call__(self, events: Sequence[PipelineEvent]) -> None:
        if self.fail:
            raise TransientDeliveryError("Prefect unreachable")
        self.sent.extend(events)


def test_an_advanced_case_has_exactly_one_pending_event_for_its_move(session: Session) -> None:
    case = _screened(session)
    with transaction(session):
        moved = advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
    (event,) = _events(session)
    assert (event.template_key, event.status, event.recipient_ref) == (
        "donorflow.case.remobilising",
        "pending",
        "prefect",
    )
    assert event.context == {
        "prefect.resource.id": f"donorflow.case.{case.id}",
        "case_id": case.id,
        "stage": "remobilising",
    }
    assert event.idempotency_key == f"{case_events_prefix(case.id)}remobilising:v{moved.version}"
    assert count_pending_events(session=session) == 1


def test_screening_enqueues_one_screened_event_per_case_opened(session: Session) -> None:
    search = add_search(session)
    donors = [add_donor(session), add_donor(session)]
    codes = [d.code for d in donors]
    with transaction(session):
        report = screen_candidates(session=session, search_id=search.id, codes=codes, actor="t")
    with transaction(session):  # screened again: the cases exist, no new event
        screen_candidates(session=session, search_id=search.id, codes=codes, actor="t")
    events = _events(session)
    assert sorted(e.context["case_id"] for e in events) == sorted(o["case_id"] for o in report.opened)
    assert {e.template_key for e in events} == {"donorflow.case.screened"}


def test_a_rolled_back_transition_leaves_no_event(session: Session) -> None:
    case = _screened(session)
    with pytest.raises(ValidationError), transaction(session):
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
        raise ValidationError("a later write of the same step failed")
    assert _events(session) == []


def test_an_answer_replayed_after_a_suspend_adds_no_second_event(session: Session) -> None:
    case = _screened(session)
    willing = ContactAnswer(coordinator="李老师", reached="yes", willing="yes", health_ok="yes")
    with transaction(session):
        enter_stage(session=session, case_id=case.id, stage=CaseStage.REMOBILISING, actor="flow")
    for _replay in range(2):
        with transaction(session):
            record_contact(session=session, case_id=case.id, attempt=1, answer=willing, max_attempts=3)
    assert [e.template_key for e in _events(session)] == [
        "donorflow.case.remobilising",
        "donorflow.case.high_res_typing",
    ]


def test_a_replayed_history_announces_nothing(session: Session) -> None:
    case = _screened(session)
    with transaction(session):
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t", announce=False)
    assert _events(session) == []


def test_relaying_twice_emits_each_event_once(session: Session, engine: Engine) -> None:
    cases = [_screened(session) for _ in range(3)]
    with transaction(session):
        for case in cases:
            advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
    emitter = Recorder()
    first = relay_events(unit_of_work=_units(engine), emit=emitter, worker="relay-a", limit=2)
    second = relay_events(unit_of_work=_units(engine), emit=emitter, worker="relay-b")
    assert (first, second) == (3, 0)  # batches of two until none is left, then nothing to do
    assert sorted(e.resource["case_id"] for e in emitter.sent) == sorted(c.id for c in cases)
    assert len({e.key for e in emitter.sent}) == 3
    assert {(e.status, e.claimed_by) for e in _events(session)} == {("sent", None)}
    assert count_pending_events(session=session) == 0


def test_a_relay_killed_after_emitting_is_succeeded_after_its_lease_with_the_same_keys(
    session: Session,
) -> None:
    case = _screened(session)
    with transaction(session):
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
    now = utcnow()
    with transaction(session):
        (emitted,) = claim_events(session=session, worker="killed", now=now)
    # ... it emitted, then died before marking. While its lease runs, nobody else takes the row:
    with transaction(session):
        assert claim_events(session=session, worker="successor", now=now + EVENT_LEASE / 2) == []
    with transaction(session):
        (again,) = claim_events(session=session, worker="successor", now=now + EVENT_LEASE + timedelta(1))
    assert (again.id, again.key, again.event) == (emitted.id, emitted.key, emitted.event)  # same event id
    with transaction(session):  # the dead relay's mark, were it late, no longer counts
        assert mark_emitted(session=session, ids=[emitted.id], worker="killed") == 0
        assert mark_emitted(session=session, ids=[again.id], worker="successor") == 1
    (row,) = _events(session)
    assert (row.status, row.attempts) == ("sent", 2)


def test_two_relays_at_once_never_claim_the_same_event(session: Session, engine: Engine) -> None:
    cases = [_screened(session) for _ in range(3)]
    with transaction(session):
        for case in cases:
            advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
    with Session(engine) as first, Session(engine) as second:
        taken = claim_events(session=first, worker="a", limit=2)
        if engine.dialect.name == "sqlite":
            first.commit()  # one writer at a time: the second relay starts after the first one's claim
        others = claim_events(session=second, worker="b", limit=3)  # PostgreSQL: skips the locked rows
        first.commit()
        second.commit()
    assert len(taken) == 2 and len(others) == 1
    assert {e.id for e in taken}.isdisjoint({e.id for e in others})


def test_an_event_whose_case_is_still_held_waits_and_goes_once_released(
    session: Session, engine: Engine
) -> None:
    case = _screened(session)
    with transaction(session):
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
    emitter = Recorder()
    holding = {case.id}

    def held(event: PipelineEvent) -> str | None:
        return "held by a live run" if event.resource["case_id"] in holding else None

    assert relay_events(unit_of_work=_units(engine), emit=emitter, worker="r", held=held) == 0
    (row,) = _events(session)
    assert (row.status, row.last_error, emitter.sent) == ("pending", "held by a live run", [])
    assert row.next_attempt_at > utcnow()  # not retried at once by every relay
    holding.clear()  # the run released the case: its own relay takes its case's events, due or not
    prefix = case_events_prefix(case.id)
    relayed = relay_events(
        unit_of_work=_units(engine), emit=emitter, worker="r", held=held, key_prefix=prefix, any_due_time=True
    )
    assert relayed == 1 and [e.key for e in emitter.sent] == [row.idempotency_key]


def test_events_prefect_did_not_take_stay_pending_with_the_reason(session: Session, engine: Engine) -> None:
    case = _screened(session)
    with transaction(session):
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t")
    emitter = Recorder()
    emitter.fail = True
    with pytest.raises(TransientDeliveryError):
        relay_events(unit_of_work=_units(engine), emit=emitter, worker="r")
    (row,) = _events(session)
    assert (row.status, row.claimed_by) == ("pending", None)
    assert row.last_error == "not emitted: Prefect unreachable"
    emitter.fail = False
    with transaction(session):  # due again a minute later
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    assert relay_events(unit_of_work=_units(engine), emit=emitter, worker="r") == 1
