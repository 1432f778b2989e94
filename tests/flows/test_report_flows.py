"""The daily report flows: the funnel table and the overdue list as Prefect artifacts, nothing personal."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from sqlmodel import Session

from flows.reports import flag_overdue, funnel_report, report_period
from models.cases import CaseStage, funnel_counts
from models.core import ValidationError, local_date, utcnow
from models.registry import RecruitmentEventCreate, create_event
from tests.factories import add_case
from tests.pii import PiiScanner

NAME, PHONE = "王小明", "13800138000"  # what tests.factories gives every member


PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def _artifact_data(key: str, flow_run_id: object) -> object:
    this_run = ArtifactFilter(
        key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
    )
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=this_run)
    return artifact.data


def _artifact(key: str, flow_run_id: object) -> list[dict[str, object]]:
    data = _artifact_data(key, flow_run_id)
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
    report = _artifact_data("funnel-report", state.state_details.flow_run_id)
    assert isinstance(report, str)
    assert f"Stem-cell funnel, {start} – {end}" in report
    assert "| 初筛 Initial screenings | 1 |" in report
    assert "Completed collections: **0**" in report
    _no_personal_data([{"markdown": report}])


def test_the_scheduled_report_covers_this_year_so_far_and_needs_no_dates(wired: Session) -> None:
    add_case(wired, stage=CaseStage.SCREENED)  # opened now: this year
    state = funnel_report(period="year_to_date", return_state=True)
    assert state.result()["initial_screenings"] == 1
    today = local_date(utcnow())
    report = _artifact_data("funnel-report", state.state_details.flow_run_id)
    assert f"{date(today.year, 1, 1)} – {today}" in str(report)


def test_report_periods_weekly_new_year_and_custom() -> None:
    today = date(2027, 1, 1)
    assert report_period("year_to_date", None, None, today) == (date(2027, 1, 1), today)
    assert report_period("previous_year", None, None, today) == (date(2026, 1, 1), date(2026, 12, 31))
    assert report_period("custom", date(2021, 1, 1), date(2021, 6, 30), today) == (
        date(2021, 1, 1),
        date(2021, 6, 30),
    )
    with pytest.raises(ValidationError):
        report_period("custom", date(2021, 1, 1), None, today)


def test_the_funnel_report_runs_weekly_and_at_new_year_in_shanghai_time() -> None:
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    [entry] = [d for d in spec["deployments"] if d["name"] == "funnel-report"]
    assert entry["schedules"] == [
        {"cron": "0 7 * * 1", "timezone": "Asia/Shanghai", "parameters": {"period": "year_to_date"}},
        {"cron": "30 7 1 1 *", "timezone": "Asia/Shanghai", "parameters": {"period": "previous_year"}},
    ]


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
