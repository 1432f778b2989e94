"""The event relay against the session's Prefect test server: a stage that finishes leaves no pending
event and Prefect has it, under the id its outbox key gives; an event whose case a live run still holds
waits; the same event emitted twice is one event at the server."""

from __future__ import annotations

import time
from collections.abc import Sequence
from uuid import UUID, uuid4

from prefect.client.orchestration import get_client
from prefect.events import Event
from prefect.events.filters import EventFilter, EventIDFilter
from sqlalchemy import update
from sqlmodel import Session, col, select

from flows.exam import pre_donation_exam
from flows.relay import emit_to_prefect, event_id, relay_pending_events
from models.cases import CaseRecord, CaseStage, DonorCase, enter_stage, open_case, today
from models.core import transaction
from models.outreach import Outbox, PipelineEvent, count_pending_events
from tests.factories import add_donor, add_search

TODAY = today().isoformat()


def _case(session: Session, *stages: CaseStage) -> DonorCase:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        for stage in stages:
            case = enter_stage(session=session, case_id=case.id, stage=stage, actor="arrange")
    return case


def _at_server(ids: Sequence[UUID], timeout: float = 30) -> list[Event]:
    """The events with these ids that the server stored (its persister writes them in batches)."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(filter=EventFilter(id=EventIDFilter(id=list(ids))), limit=50)
            if len(page.events) >= len(set(ids)) or time.monotonic() > deadline:
                return list(page.events)
            time.sleep(0.3)


def _rows(session: Session, case_id: str) -> list[Outbox]:
    session.expire_all()
    return [
        row
        for row in session.exec(select(Outbox).where(Outbox.kind == "event").order_by(col(Outbox.id)))
        if row.context.get("case_id") == case_id
    ]


def test_finishing_a_stage_relays_its_events_to_prefect_and_leaves_none_pending(wired: Session) -> None:
    # The exam answered before (a re-run): the flow replays both steps, releases the case and finishes.
    case = _case(wired, CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING, CaseStage.EXAM)
    for key in ("exam-booked", "exam-result"):
        wired.add(CaseRecord(case_id=case.id, stage="exam", key=key, actor="a", data={"result_date": TODAY}))
    wired.commit()
    with transaction(wired):
        enter_stage(session=wired, case_id=case.id, stage=CaseStage.DONATION, actor="arrange")
    assert count_pending_events(session=wired) == 4

    state = pre_donation_exam(case.id, return_state=True)
    assert state.is_completed() and state.result() == "advanced"
    rows = _rows(wired, case.id)
    stages = ("remobilising", "high_res_typing", "exam", "donation")
    assert [(r.template_key, r.status) for r in rows] == [(f"donorflow.case.{s}", "sent") for s in stages]
    assert count_pending_events(session=wired) == 0
    stored = _at_server([event_id(r.idempotency_key) for r in rows])
    donation = next(e for e in stored if e.event == "donorflow.case.donation")
    assert donation.resource.id == f"donorflow.case.{case.id}"
    assert (donation.resource["case_id"], donation.resource["stage"]) == (case.id, "donation")


def test_an_event_whose_case_a_live_run_holds_waits_until_the_run_is_gone(wired: Session) -> None:
    case = _case(wired, CaseStage.REMOBILISING)
    sent: list[PipelineEvent] = []

    def hold(run_id: str) -> None:
        wired.exec(update(DonorCase).where(col(DonorCase.id) == case.id).values(live_run_id=run_id))
        wired.commit()

    hold("local-remobilise")  # a run of this process, live (not a Prefect run: it cannot be gone)
    assert relay_pending_events(emit=sent.extend) == 0
    (row,) = _rows(wired, case.id)
    assert row.status == "pending"
    assert row.last_error == f"case {case.id} is still held by run local-remobilise"
    hold(str(uuid4()))  # a run Prefect does not know: gone, the next stage's run would take its claim over
    assert relay_pending_events(case_id=case.id, emit=sent.extend) == 1
    assert [e.key for e in sent] == [row.idempotency_key]


def test_the_same_event_emitted_twice_is_one_event_at_the_server(wired: Session) -> None:
    key = f"event:case:{uuid4()}:exam:v4"
    resource = {"prefect.resource.id": key}
    event = PipelineEvent(id=1, key=key, event="donorflow.test.relayed", resource=resource)
    emit_to_prefect([event])
    emit_to_prefect([event])  # a relay killed between emitting and marking, and its successor
    marker = PipelineEvent(id=2, key=f"{key}-marker", event="donorflow.test.relayed", resource=resource)
    emit_to_prefect([marker])  # sent after both: once it is stored, so is anything sent before it
    stored = _at_server([event_id(key), event_id(marker.key)])
    assert sorted(str(e.id) for e in stored) == sorted([str(event_id(key)), str(event_id(marker.key))])
