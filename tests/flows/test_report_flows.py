"""The daily report flows: the funnel table and the overdue list as Prefect artifacts, nothing personal."""

from __future__ import annotations

import json
from datetime import date, timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from sqlmodel import Session

from flows.reports import flag_overdue, funnel_report
from models.cases import CaseStage, funnel_counts
from models.core import utcnow
from models.registry import RecruitmentEventCreate, create_event
from tests.factories import add_case
from tests.pii import PiiScanner

NAME, PHONE = "王小明", "13800138000"  # what tests.factories gives every member


def _artifact(key: str, flow_run_id: object) -> list[dict[str, object]]:
    this_run = ArtifactFilter(
        key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
    )
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=this_run)
    data = artifact.data
    rows = json.loads(data) if isinstance(data, str) else data
    assert isinstance(rows, list)
    return rows


def _no_personal_data(rows: list[dict[str, object]]) -> None:
    scanner = PiiScanner()
    scanner.add(name=NAME, phone=PHONE, national_id="410102199505170011")
    assert scanner.json("artifact", rows) == []


def test_funnel_report_returns_the_counts_and_tables_them_without_personal_data(wired: Session) -> None:
    create_event(
        session=wired, data=RecruitmentEventCreate(name="郑州大学", held_on=date(2021, 3, 1), location="x")
    )
    add_case(wired, stage=CaseStage.SCREENED)
    wired.commit()
    start, end = date(2021, 1, 1), date(2099, 12, 31)
    expected = funnel_counts(session=wired, start=start, end=end).model_dump()
    state = funnel_report(start, end, return_state=True)
    assert state.result() == expected
    assert expected["recruitment_events"] == 1 and expected["initial_screenings"] == 1
    rows = _artifact("funnel", state.state_details.flow_run_id)
    assert [(row["stage"], row["count"]) for row in rows] == list(expected.items())
    _no_personal_data(rows)


def test_flag_overdue_lists_the_late_cases_by_code_and_counts_them(wired: Session) -> None:
    late = add_case(wired, due_at=utcnow() - timedelta(hours=2))
    add_case(wired, due_at=utcnow() + timedelta(days=2))
    state = flag_overdue(return_state=True)
    assert state.result() == 1
    rows = _artifact("overdue-cases", state.state_details.flow_run_id)
    assert [(row["case_id"], row["stage"]) for row in rows] == [(late.id, "exam")]
    assert str(rows[0]["member"]).startswith("TT21-")
    _no_personal_data(rows)


def test_flag_overdue_with_nothing_late_says_so(wired: Session) -> None:
    add_case(wired, due_at=utcnow() + timedelta(days=2))
    state = flag_overdue(return_state=True)
    assert state.result() == 0
    rows = _artifact("overdue-cases", state.state_details.flow_run_id)
    assert [row["stage"] for row in rows] == ["none overdue"]
