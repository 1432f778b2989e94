"""Cases, contact reveals, actions and "waiting for me" (issue 12 items 2–5) on both databases, with a
real local HTTP server standing in for Prefect's REST API (the JSON shapes Prefect 3 answers)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard import DashboardConfig, create_app
from models.accounts import Role
from models.cases import CaseStage, ContactReveal, DonorCase, claim_case
from models.cases.messages import remobilisation_contact
from models.core import StageEvent, transaction
from models.registry import Donor
from tests.dashboard_support import PASSWORD, add_staff, csrf_of
from tests.factories import add_case
from tests.integration.dashboard.conftest import Clock, TestClient

UI = "http://prefect.test"
NOW = datetime(2021, 8, 1, 2, tzinfo=UTC)


@pytest.fixture
def app(engine: Engine, session: Session, clock: Clock, httpserver: HTTPServer) -> FastAPI:
    """This module's app: the Prefect API is the local stand-in server."""
    return create_app(
        DashboardConfig(
            session_factory=lambda: Session(engine),
            secret_key="test-only-secret",
            clock=clock,
            prefect_ui_url=UI,
            prefect_api_url=httpserver.url_for("/api"),
            prefect_timeout=2,
        )
    )


def _log_in(client: TestClient, session: Session, name: str, role: Role) -> str:
    """Logged in as a new user of `role`; the session's CSRF token."""
    add_staff(session, name, role)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    return csrf_of(client.get("/").text)


def _case(session: Session, stage: CaseStage = CaseStage.SCREENED, **kwargs: Any) -> tuple[DonorCase, Donor]:
    case = add_case(session, stage=stage, **kwargs)
    donor = session.get(Donor, case.donor_id)
    assert donor is not None
    return case, donor


def _flow_run(run_id: str, name: str, at: datetime, key: str, case_id: str | None) -> dict[str, Any]:
    """A paused flow run as `POST /flow_runs/filter` returns it (prefect.client.schemas.objects.FlowRun)."""
    return {
        "id": run_id,
        "created": at.isoformat(),
        "updated": at.isoformat(),
        "name": name,
        "flow_id": str(uuid.uuid4()),
        "state_id": str(uuid.uuid4()),
        "deployment_id": str(uuid.uuid4()),
        "work_queue_name": None,
        "flow_version": "1",
        "parameters": {"case_id": case_id} if case_id else {},
        "idempotency_key": None,
        "context": {},
        "empirical_policy": {"retries": 0, "retry_delay": 0, "pause_keys": [key], "resuming": False},
        "tags": [],
        "labels": {},
        "parent_task_run_id": None,
        "state_type": "PAUSED",
        "state_name": "Suspended",
        "run_count": 1,
        "expected_start_time": (at - timedelta(minutes=5)).isoformat(),
        "next_scheduled_start_time": None,
        "start_time": (at - timedelta(minutes=5)).isoformat(),
        "end_time": None,
        "total_run_time": 1.5,
        "estimated_run_time": 1.5,
        "estimated_start_time_delta": 0.0,
        "auto_scheduled": False,
        "infrastructure_pid": None,
        "infrastructure_document_id": None,
        "created_by": None,
        "work_queue_id": None,
        "work_pool_id": None,
        "work_pool_name": None,
        "state": {
            "id": str(uuid.uuid4()),
            "type": "PAUSED",
            "name": "Suspended",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "message": None,
            "data": None,
            "state_details": {
                "flow_run_id": run_id,
                "task_run_id": None,
                "child_flow_run_id": None,
                "scheduled_time": None,
                "cache_key": None,
                "cache_expiration": None,
                "deferred": False,
                "untrackable_result": False,
                "pause_timeout": (at + timedelta(days=30)).isoformat(),
                "pause_reschedule": True,
                "pause_key": key,
                "run_input_keyset": {
                    "description": f"suspended-{key}-description",
                    "response": f"suspended-{key}-response",
                    "schema": f"suspended-{key}-schema",
                },
                "refresh_cache": None,
                "retriable": None,
                "transition_id": None,
                "task_parameters_id": None,
                "traceparent": None,
                "deployment_concurrency_lease_id": None,
            },
        },
        "job_variables": {},
    }


def test_every_case_page_needs_a_login(client: TestClient) -> None:
    for path in ("/cases", f"/cases/{uuid.uuid4()}", "/waiting", "/reveals"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_a_viewer_cannot_list_cases_reveal_or_act_and_a_coordinator_cannot_list_reveals(
    client: TestClient, session: Session
) -> None:
    case, _ = _case(session)
    token = _log_in(client, session, "看看", Role.VIEWER)
    assert client.get("/cases").status_code == 403
    assert client.get(f"/cases/{case.id}").status_code == 403
    assert client.get("/waiting").status_code == 403
    for action in ("reveal", "remobilise", "release", "opt-out", "withdraw", "death"):
        form = {"csrf_token": token, "reason": "contact_for_case", "channel": "sms", "confirm": "yes"}
        assert client.post(f"/cases/{case.id}/{action}", data=form).status_code == 403, action
    assert session.exec(select(ContactReveal)).all() == []
    client.post("/logout", data={"csrf_token": token})
    _log_in(client, session, "李老师", Role.COORDINATOR)
    assert client.get("/reveals").status_code == 403


def test_a_reveal_or_an_action_without_the_csrf_token_is_403(client: TestClient, session: Session) -> None:
    case, _ = _case(session)
    _log_in(client, session, "李老师", Role.COORDINATOR)
    for action in ("reveal", "release", "opt-out", "withdraw"):
        form = {"reason": "contact_for_case", "channel": "sms", "confirm": "yes"}
        assert client.post(f"/cases/{case.id}/{action}", data=form).status_code == 403
        assert (
            client.post(f"/cases/{case.id}/{action}", data={**form, "csrf_token": "forged"}).status_code
            == 403
        )
    assert session.exec(select(ContactReveal)).all() == []


def test_the_list_finds_a_case_by_member_code_case_id_patient_code_and_filters(
    client: TestClient, session: Session
) -> None:
    late, late_donor = _case(session, CaseStage.EXAM, due_at=NOW - timedelta(days=1))
    fresh, fresh_donor = _case(session, CaseStage.SCREENED)
    _log_in(client, session, "李老师", Role.COORDINATOR)

    def shown(query: str) -> set[str]:
        page = client.get(f"/cases?{query}")
        assert page.status_code == 200
        return {case_id for case_id in (late.id, fresh.id) if f'data-case="{case_id}"' in page.text}

    assert shown("") == {late.id, fresh.id}
    assert shown(f"q={late_donor.code}") == {late.id}
    assert shown(f"q={late_donor.code.lower()}") == {late.id}
    assert shown(f"q={fresh.id}") == {fresh.id}
    assert shown("stage=screened") == {fresh.id}
    assert shown("overdue=1") == {late.id}
    assert shown(f"member={fresh_donor.code}&status=active") == {fresh.id}
    assert shown("status=closed") == set()
    assert shown("q=nobody") == set()
    patient = session.exec(select(DonorCase).where(DonorCase.id == late.id)).one().search_id
    from models.cases import PatientSearch

    code = session.get(PatientSearch, patient)
    assert code is not None
    assert shown(f"patient={code.patient_code}") == {late.id}
    assert "已超期" in client.get("/cases?overdue=1").text


def test_the_case_page_shows_the_member_masked_its_trail_messages_and_runs(
    client: TestClient, session: Session
) -> None:
    case, donor = _case(session)
    run_id = str(uuid.uuid4())
    with transaction(session):
        claim_case(session=session, case_id=case.id, flow_run_id=run_id)
        remobilisation_contact(session=session, case=session.get(DonorCase, case.id), attempt=1)  # type: ignore[arg-type]
    _log_in(client, session, "李老师", Role.COORDINATOR)
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    text = page.text
    assert donor.code in text and "138****8000" in text and "王**" in text
    assert "13800138000" not in text and "王小明" not in text  # nothing personal unrevealed
    assert "remobilisation_contact" in text  # the message: template, channel, status
    assert f'href="{UI}/runs/flow-run/{run_id}"' in text
    assert "screened" in text or "初筛" in text
    assert client.get(f"/cases/{uuid.uuid4()}").status_code == 404


def test_open_cases_come_before_closed_ones_and_stored_values_read_in_chinese(
    client: TestClient, session: Session
) -> None:
    closed, _ = _case(session, CaseStage.REMOBILISING, status="closed")
    closed.closed_reason = "not_selected"
    closed.stage_entered_at = NOW - timedelta(days=400)  # the oldest: first if order were by time alone
    session.add(closed)
    session.commit()
    open_case, _ = _case(session, CaseStage.EXAM)
    _log_in(client, session, "李老师", Role.COORDINATOR)
    listed = client.get("/cases").text
    assert listed.index(open_case.id[:8]) < listed.index(closed.id[:8])
    assert "未被选中" in listed and "not_selected" not in listed
    page = client.get(f"/cases/{closed.id}").text
    assert "未被选中" in page and "可检索" in page  # the close reason, the member's registry status
    assert "未被选中" not in client.get("/cases?lang=en").text and "not selected" in client.get("/cases").text


def test_a_reveal_is_recorded_shown_once_and_listed_for_admins(client: TestClient, session: Session) -> None:
    case, donor = _case(session)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    refused = client.post(f"/cases/{case.id}/reveal", data={"csrf_token": token, "reason": "other"})
    assert refused.status_code == 400 and "13800138000" not in refused.text
    assert session.exec(select(ContactReveal)).all() == []

    shown = client.post(
        f"/cases/{case.id}/reveal",
        data={"csrf_token": token, "reason": "contact_for_case", "note": "call about sample 13912345678"},
    )
    assert shown.status_code == 200 and "13800138000" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert "13800138000" not in client.get(f"/cases/{case.id}").text  # once: a reload hides it
    (reveal,) = session.exec(select(ContactReveal)).all()
    assert (reveal.actor, reveal.donor_id, reveal.case_id, reveal.reason) == (
        "李老师",
        donor.id,
        case.id,
        "contact_for_case",
    )
    assert reveal.note == "call about sample 139****5678"  # a number typed in the note is masked

    client.post("/logout", data={"csrf_token": token})
    _log_in(client, session, "admin1", Role.ADMIN)
    listed = client.get("/reveals")
    assert listed.status_code == 200
    assert "李老师" in listed.text and donor.code in listed.text and "联系志愿者推进病例" in listed.text
    assert "13800138000" not in listed.text


def test_release_a_stuck_case_with_a_reason_is_audited_with_the_user(
    client: TestClient, session: Session
) -> None:
    case, _ = _case(session, CaseStage.REMOBILISING)
    run_id = str(uuid.uuid4())
    with transaction(session):
        claim_case(session=session, case_id=case.id, flow_run_id=run_id)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    no_reason = client.post(f"/cases/{case.id}/release", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 400 and "未执行" in no_reason.text
    done = client.post(f"/cases/{case.id}/release", data={"csrf_token": token, "reason": "run cancelled"})
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{case.id}"
    assert "已释放病例" in client.get(f"/cases/{case.id}").text
    session.expire_all()
    assert session.get(DonorCase, case.id).live_run_id is None  # type: ignore[union-attr]
    event = session.exec(
        select(StageEvent).where(StageEvent.case_id == case.id, StageEvent.to_state == "released")
    ).one()
    assert (event.actor, event.reason, event.flow_run_id) == ("李老师", "run cancelled", run_id)


def test_an_opt_out_is_recorded_and_audited(client: TestClient, session: Session) -> None:
    case, donor = _case(session)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    assert (
        client.post(f"/cases/{case.id}/opt-out", data={"csrf_token": token, "channel": "sms"}).status_code
        == 303
    )
    session.expire_all()
    assert session.get(Donor, donor.id).opt_out_sms is True  # type: ignore[union-attr]
    event = session.exec(select(StageEvent).where(StageEvent.entity == "contact")).one()
    assert event.actor == "李老师"
    bad = client.post(f"/cases/{case.id}/opt-out", data={"csrf_token": token, "channel": "pigeon"})
    assert bad.status_code == 400 and "渠道无效" in bad.text


def test_withdrawing_a_member_needs_the_confirmation_page_then_erases(
    client: TestClient, session: Session
) -> None:
    case, donor = _case(session)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    confirm = client.get(f"/cases/{case.id}/withdraw")
    assert (
        confirm.status_code == 200
        and donor.code in confirm.text
        and 'name="confirm" value="yes"' in confirm.text
    )
    unconfirmed = client.post(f"/cases/{case.id}/withdraw", data={"csrf_token": token})
    assert unconfirmed.status_code == 400
    session.expire_all()
    assert session.get(Donor, donor.id).status != "withdrawn"  # type: ignore[union-attr]
    done = client.post(f"/cases/{case.id}/withdraw", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303
    session.expire_all()
    erased = session.get(Donor, donor.id)
    assert erased is not None and erased.status == "withdrawn" and erased.phone is None
    assert session.exec(select(StageEvent).where(StageEvent.to_state == "withdrawn")).one().actor == "李老师"
    again = client.post(f"/cases/{case.id}/withdraw", data={"csrf_token": token, "confirm": "yes"})
    assert again.status_code == 400 and "未执行" in again.text  # already withdrawn: said, not a 500


def test_recording_a_death_takes_the_date_on_the_confirmation_page(
    client: TestClient, session: Session
) -> None:
    case, donor = _case(session)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    assert 'type="date"' in client.get(f"/cases/{case.id}/death").text
    bad = client.post(f"/cases/{case.id}/death", data={"csrf_token": token, "confirm": "yes", "died_on": "x"})
    assert bad.status_code == 400
    done = client.post(
        f"/cases/{case.id}/death", data={"csrf_token": token, "confirm": "yes", "died_on": "2021-07-30"}
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Donor, donor.id).status == "deceased"  # type: ignore[union-attr]
    event = session.exec(select(StageEvent).where(StageEvent.to_state == "deceased")).one()
    assert (event.actor, event.reason) == ("李老师", f"deceased on {date(2021, 7, 30).isoformat()}")


def _remobilise_deployment(httpserver: HTTPServer) -> str:
    """Prefect's answer to looking the remobilise deployment up by name; its id."""
    deployment = str(uuid.uuid4())
    httpserver.expect_request("/api/deployments/name/remobilise/remobilise", method="GET").respond_with_json(
        {"id": deployment, "name": "remobilise", "flow_id": str(uuid.uuid4()), "parameters": {}}
    )
    return deployment


def test_start_remobilisation_creates_a_run_of_the_deployment_through_prefects_api(
    client: TestClient, session: Session, httpserver: HTTPServer
) -> None:
    case, _ = _case(session)
    deployment, run_id = _remobilise_deployment(httpserver), str(uuid.uuid4())
    key = f"dashboard:remobilise:{case.id}:v{case.version}"
    run = {"id": run_id, "name": f"remobilise-case-{case.id}", "state_type": "SCHEDULED"}
    create = {"parameters": {"case_id": case.id}, "idempotency_key": key}
    path = f"/api/deployments/{deployment}/create_flow_run"
    httpserver.expect_oneshot_request(path, method="POST", json=create).respond_with_json(run, status=201)
    # Prefect answers a known idempotency key with the run it made then (200, not 201).
    httpserver.expect_oneshot_request(path, method="POST", json=create).respond_with_json(run, status=200)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    done = client.post(f"/cases/{case.id}/remobilise", data={"csrf_token": token})
    assert done.status_code == 303
    page = client.get(f"/cases/{case.id}").text
    assert run_id in page and "已启动再动员" in page and "从工作台启动" in page  # the audit trail says who
    [asked] = session.exec(select(StageEvent).where(StageEvent.to_state == "requested")).all()
    assert (asked.entity, asked.actor, asked.flow_run_id, asked.from_state) == (
        "claim",
        "李老师",
        run_id,
        "screened",
    )
    again = client.post(f"/cases/{case.id}/remobilise", data={"csrf_token": token})
    assert again.status_code == 303
    page = client.get(f"/cases/{case.id}").text
    assert run_id in page and "未重复启动" in page
    session.expire_all()
    assert len(session.exec(select(StageEvent).where(StageEvent.to_state == "requested")).all()) == 1
    httpserver.check_assertions()


def test_start_remobilisation_of_a_held_case_is_a_conflict_and_of_no_prefect_a_503(
    client: TestClient, session: Session, httpserver: HTTPServer
) -> None:
    held, _ = _case(session)
    with transaction(session):
        claim_case(session=session, case_id=held.id, flow_run_id=str(uuid.uuid4()))
    free, _ = _case(session)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    conflict = client.post(f"/cases/{held.id}/remobilise", data={"csrf_token": token})
    assert conflict.status_code == 409 and "操作冲突" in conflict.text
    httpserver.expect_request("/api/deployments/name/remobilise/remobilise").respond_with_data("", status=500)
    down = client.post(f"/cases/{free.id}/remobilise", data={"csrf_token": token})
    assert down.status_code == 503 and "无法连接 Prefect" in down.text
    assert len(httpserver.log) == 3  # the free case's lookup, tried 3 times; the held one never reached it


def test_a_start_that_prefect_answered_with_a_5xx_is_made_again_under_the_same_key_once(
    client: TestClient, session: Session, httpserver: HTTPServer
) -> None:
    case, _ = _case(session)
    deployment, run_id = _remobilise_deployment(httpserver), str(uuid.uuid4())
    create = {
        "parameters": {"case_id": case.id},
        "idempotency_key": f"dashboard:remobilise:{case.id}:v{case.version}",
    }
    path = f"/api/deployments/{deployment}/create_flow_run"
    httpserver.expect_oneshot_request(path, method="POST", json=create).respond_with_data("busy", status=503)
    run = {"id": run_id, "name": f"remobilise-case-{case.id}", "state_type": "SCHEDULED"}
    httpserver.expect_oneshot_request(path, method="POST", json=create).respond_with_json(run, status=201)
    token = _log_in(client, session, "李老师", Role.COORDINATOR)
    assert client.post(f"/cases/{case.id}/remobilise", data={"csrf_token": token}).status_code == 303
    assert run_id in client.get(f"/cases/{case.id}").text
    httpserver.check_assertions()


def test_waiting_lists_suspended_runs_oldest_first_with_what_they_ask_beside_overdue_cases(
    client: TestClient, session: Session, httpserver: HTTPServer
) -> None:
    case, _ = _case(session, CaseStage.REMOBILISING, due_at=NOW - timedelta(hours=3))
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    runs = [  # Prefect's order (expected start) is not the waiting order: the page sorts by the state's time
        _flow_run(new, "high-res-typing-case-x", NOW - timedelta(hours=1), "sample-booked-1", None),
        _flow_run(old, f"remobilise-case-{case.id}", NOW - timedelta(days=2), "contact-1-1", case.id),
    ]
    httpserver.expect_request(
        "/api/flow_runs/filter",
        method="POST",
        json={
            "flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 200,
        },
    ).respond_with_json(runs)
    markdown = (
        "**未接受 Not accepted: 日期无效**\n\n"
        "### 第 1/3 次联系：联系上志愿者了吗？ Contact attempt 1 of 3\n\n"
        f"案例 Case `{case.id}` · 志愿者 member **TT21\\-1**"
    )
    httpserver.expect_request(
        f"/api/flow_runs/{old}/input/suspended-contact-1-1-description"
    ).respond_with_data(json.dumps(markdown), content_type="text/plain")
    httpserver.expect_request(
        f"/api/flow_runs/{new}/input/suspended-sample-booked-1-description"
    ).respond_with_data("Not Found", status=404)
    _log_in(client, session, "李老师", Role.COORDINATOR)
    page = client.get("/waiting")
    assert page.status_code == 200
    text = page.text
    assert text.index(f'data-run="{old}"') < text.index(f'data-run="{new}"')
    assert "第 1/3 次联系：联系上志愿者了吗？ Contact attempt 1 of 3" in text
    assert "未接受 Not accepted: 日期无效" in text
    assert "sample-booked-1" in text  # no description: the form's key
    assert f'href="{UI}/runs/flow-run/{old}"' in text and f'href="/cases/{case.id}"' in text
    assert "2021-07-30 10:00" in text  # since when, Beijing time
    assert f'<tr data-case="{case.id}">' in text  # the overdue case beside


def test_waiting_says_so_when_prefect_is_unreachable_and_still_lists_overdue_cases(
    engine: Engine, session: Session, clock: Clock
) -> None:
    case, _ = _case(session, CaseStage.EXAM, due_at=NOW - timedelta(days=1))
    app = create_app(
        DashboardConfig(
            session_factory=lambda: Session(engine),
            secret_key="test-only-secret",
            clock=clock,
            prefect_api_url="http://127.0.0.1:9/api",  # discard port: nothing answers
            prefect_timeout=1,
        )
    )
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        _log_in(client, session, "李老师", Role.COORDINATOR)
        page = client.get("/waiting")
    assert page.status_code == 503
    assert "无法连接 Prefect" in page.text and f'data-case="{case.id}"' in page.text
