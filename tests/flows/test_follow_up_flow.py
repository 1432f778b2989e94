"""The follow-up flow in a real Prefect server, run ad hoc (it pauses in-process), answered as a coordinator:
a rejected answer is asked again with its reason; the answer is recorded masked, in Prefect and the case."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from prefect.client.orchestration import get_client
from sqlmodel import Session, select

from flows.follow_up import follow_up
from models.cases import CaseStage, DonorCase, FollowUp, today
from models.core import transaction
from models.outreach import Outbox
from models.reminders import CoordinatorTask
from tests.coordinator import Coordinator
from tests.factories import add_case


def _case_with_month_1_due(session: Session) -> str:
    case = add_case(session, stage=CaseStage.FOLLOW_UP)
    with transaction(session):
        session.add(FollowUp(case_id=case.id, donor_id=case.donor_id, label="month-1", due_on=today()))
        session.add(
            FollowUp(
                case_id=case.id, donor_id=case.donor_id, label="month-6", due_on=today() + timedelta(days=150)
            )
        )
    return case.id


def test_a_spear_without_category_is_asked_again_then_recorded_with_task_and_alert(wired: Session) -> None:
    case_id = _case_with_month_1_due(wired)
    coordinator = Coordinator()
    answer = {
        "coordinator": "李老师",
        "recovered": "no",
        "symptoms": ["bone_pain", "fever"],
        "days_off_work": 4,
        "medication": "对乙酰氨基酚，回电 13812345678",
        "serious_event": "yes",
        "spear_description": "发热住院",
    }
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(follow_up, case_id, "month_1")
        run = coordinator.run_named(f"follow-up-case-{case_id}-month_1")
        _key, description = coordinator.answer(run.id, answer)
        assert "随访 month\\_1 Follow-up month\\_1" in description and "TT21-" in description
        _key, description = coordinator.answer(run.id, {**answer, "spear_category": "hospitalisation"})
        assert "未选择 S(P)EAR 类别" in description and "Not accepted" in description
        assert running.result(timeout=60) == "recorded"
    wired.expire_all()
    row = wired.exec(select(FollowUp).where(FollowUp.case_id == case_id, FollowUp.label == "month-1")).one()
    assert (row.status, row.spear_category, row.answered_by) == (
        "answered",
        "hospitalisation",
        "coordinator:李老师",
    )
    assert row.answers is not None and row.answers["medication"] == "对乙酰氨基酚，回电 138****5678"
    case = wired.get(DonorCase, case_id)
    assert case is not None and (case.stage, case.live_run_id) == ("follow_up", None)
    assert wired.exec(select(CoordinatorTask.kind)).all() == ["spear_review"]
    alert = wired.exec(select(Outbox).where(Outbox.template_key == "alert_spear")).one()
    assert alert.context["link"].endswith(f"/runs/flow-run/{run.id}")
    # What Prefect keeps of the answers is the masked text; its parameters are ids and the kind.
    with get_client(sync_client=True) as client:
        stored = client.filter_flow_run_input(run.id, key_prefix="", limit=100, exclude_keys=set())
        assert client.read_flow_run(run.id).parameters == {"case_id": case_id, "kind": "month_1"}
    responses = [json.loads(i.value) for i in stored if i.key.endswith("-response")]
    assert [r["medication"] for r in responses] == ["对乙酰氨基酚，回电 138****5678"] * 2
    assert "13812345678" not in "\n".join(i.value for i in stored)


def test_an_unknown_kind_or_a_follow_up_not_yet_due_fails_at_once_without_a_form(wired: Session) -> None:
    case_id = _case_with_month_1_due(wired)
    assert follow_up(case_id, "month_2", return_state=True).is_failed()
    assert follow_up(case_id, "month_6", return_state=True).is_failed()  # due in 150 days
    wired.expire_all()
    case = wired.get(DonorCase, case_id)
    assert case is not None and case.live_run_id is None  # released: the next run may claim it
