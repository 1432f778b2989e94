"""`donorflow notify preview` as a coordinator runs it: the installed command, a real database for
`--case` (both backends), the branch's settings from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from models.cases import CaseStage, describe_case
from tests.databases import BACKENDS, fresh_database
from tests.e2e.test_cli import CliRunner
from tests.factories import add_case

NAME, PHONE = "王小明", "13800138000"  # what tests/factories gives the case's member: never printed


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp(f"cli-notify-{request.param}")) as url:
        yield url


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> CliRunner:
    return CliRunner(database_url, tmp_path)


def _case(database_url: str) -> tuple[str, str, str]:
    engine = create_engine(database_url)
    with Session(engine) as session:
        case = add_case(session, stage=CaseStage.EXAM, name=NAME)
        summary = describe_case(session=session, case_id=case.id)
    engine.dispose()
    return case.id, summary.member_code, summary.patient.partition(" at ")[0]


def test_preview_with_a_case_takes_its_codes_and_stage_and_never_the_member(run: CliRunner) -> None:
    case_id, member_code, patient_code = _case(run.database_url)
    alert = run("notify", "preview", "alert_form_waiting", "--channel", "webhook", "--case", case_id)
    assert f"病例：{case_id}" in alert.stdout and f"志愿者编号：{member_code}" in alert.stdout
    assert "阶段：捐献前体检" in alert.stdout  # the case is at the exam stage
    result = json.loads(
        run("notify", "preview", "high_res_result", "--lang", "en", "--case", case_id, "--json").stdout
    )
    assert f"Patient: {patient_code}" in result["text"] and f"Member: {member_code}" in result["text"]
    for output in (alert.stdout, alert.stderr, result["text"], result["html"]):
        assert NAME not in output and PHONE not in output

    unknown = run("notify", "preview", "exam_booking", "--case", "no-such-case", check=False)
    lines = [line for line in unknown.stderr.splitlines() if line.strip()]
    assert unknown.returncode == 3 and len(lines) == 1 and "no-such-case" in lines[0]
