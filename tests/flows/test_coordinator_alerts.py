"""Coordinator alerts from flows in a real Prefect server: a stage form waiting, linked to its run, and
the overdue report alerting each late case once however often it runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session, col, select

from flows import runtime
from flows.remobilise import remobilise
from flows.reports import flag_overdue
from models.cases import CaseStage, DonorCase, enter_stage, open_case
from models.core import transaction, utcnow
from models.outreach import COORDINATORS, Outbox
from tests.coordinator import Coordinator
from tests.factories import add_case, add_donor, add_search

UI = "http://prefect.branch.test:4200"  # as set by DONORFLOW_PREFECT_UI_URL, through FlowConfig


def _alerts(session: Session, template_key: str) -> list[Outbox]:
    session.expire_all()
    query = select(Outbox).where(Outbox.template_key == template_key).order_by(col(Outbox.id))
    return list(session.exec(query))


def _screened_case(session: Session) -> DonorCase:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        return enter_stage(session=session, case_id=case.id, stage=CaseStage.REMOBILISING, actor="arrange")


def test_a_stage_flow_waiting_for_a_form_alerts_the_coordinators_once_with_the_run_link(
    wired: Session,
) -> None:
    runtime.configure(replace(runtime.config(), prefect_ui_url=UI))
    case = _screened_case(wired)
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(remobilise, case.id)
        run = coordinator.run_named(f"remobilise-case-{case.id}")
        key, _schema, _description = coordinator.next_form(run.id)
        (waiting,) = _alerts(wired, "alert_form_waiting")  # committed before the run paused
        assert (waiting.recipient_ref, waiting.urgent, waiting.status) == (COORDINATORS, True, "pending")
        assert waiting.idempotency_key == f"alert:form:{run.id}:{key}"
        assert waiting.context["link"] == f"{UI}/runs/flow-run/{run.id}"
        assert (waiting.context["case_id"], waiting.context["stage"]) == (case.id, "remobilising")
        assert "Contact attempt 1 of 2" in waiting.context["form"]
        coordinator.answer(
            run.id, {"coordinator": "李老师", "reached": "yes", "willing": "no", "health_ok": "yes"}
        )
        assert running.result(timeout=60) == "closed"
    (alert,) = _alerts(wired, "alert_form_waiting")  # one form asked, one alert
    # Answered before any dispatcher sent it: nobody is sent to a form that no longer waits.
    assert (alert.status, alert.last_error) == ("skipped", "表单已填写 answered")
    (contact,) = _alerts(wired, "remobilisation_contact")
    assert contact.recipient_ref == f"donor:{case.donor_id}"


def test_the_overdue_report_alerts_each_late_case_once_however_often_it_runs(wired: Session) -> None:
    runtime.configure(replace(runtime.config(), prefect_ui_url=UI))
    late = add_case(wired, due_at=utcnow() - timedelta(hours=2))
    held = add_case(wired, stage=CaseStage.DONATION, due_at=utcnow() - timedelta(days=1))
    add_case(wired, due_at=utcnow() + timedelta(days=2))
    stage_run = "5f0c8a1e-0000-4000-8000-00000000beef"  # the stage run holding the case, waiting
    with transaction(wired):
        held.live_run_id = stage_run
        wired.add(held)
    first = flag_overdue(return_state=True)
    second = flag_overdue(return_state=True)
    assert (first.result(), second.result()) == (2, 2)  # both runs list them
    alerts = {a.context["case_id"]: a for a in _alerts(wired, "alert_case_overdue")}
    assert set(alerts) == {late.id, held.id}  # but only the first alerted
    assert alerts[held.id].context["link"] == f"{UI}/runs/flow-run/{stage_run}"
    report_run = first.state_details.flow_run_id
    assert alerts[late.id].context["link"] == f"{UI}/runs/flow-run/{report_run}"
    assert alerts[late.id].context["stage"] == "exam"
