"""`donorflow reminders due | run` and `donorflow followups list` as an operator types them: a real
process, a real database (SQLite: the commands add no SQL of their own beyond the engine, which the
integration tests run on both backends)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from tests.databases import empty_all_tables, fresh_database
from tests.e2e.test_cli import CliRunner
from tests.integration.reminders.support import donated_case


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("cli-reminders")) as url:
        yield url


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Iterator[CliRunner]:
    engine = create_engine(database_url)
    empty_all_tables(engine)
    engine.dispose()
    yield CliRunner(database_url, tmp_path)


def _donation(database_url: str, on: date) -> tuple[str, str]:
    engine = create_engine(database_url)
    with Session(engine) as session:
        case = donated_case(session, on)
        from models.registry import Donor

        donor = session.get(Donor, case.donor_id)
        assert donor is not None
        ids = (case.id, donor.code)
    engine.dispose()
    return ids


def test_due_shows_what_run_does_and_a_second_run_enqueues_nothing(run: CliRunner) -> None:
    case_id, _code = _donation(run.database_url, date(2026, 3, 1))
    due = json.loads(run("reminders", "due", "--date", "2026-03-03", "--json").stdout)
    assert (due["enqueued"], due["tasks"], due["missed"]) == ({"follow_up": 1}, {}, {})
    assert [item["key"] for item in due["items"]] == [f"reminder:follow_up:{case_id}:day_2"]
    first = json.loads(run("reminders", "run", "--date", "2026-03-03", "--json").stdout)
    assert first == {"enqueued": {"follow_up": 1}, "tasks": {}, "missed": {}}
    second = json.loads(run("reminders", "run", "--date", "2026-03-03", "--json").stdout)
    assert second == {"enqueued": {}, "tasks": {}, "missed": {}}
    again = json.loads(run("reminders", "due", "--date", "2026-03-03", "--json").stdout)
    assert again["items"] == []


def test_followups_list_gives_case_member_kind_due_date_and_status(run: CliRunner) -> None:
    case_id, code = _donation(run.database_url, date(2026, 3, 1))
    run("reminders", "run", "--date", "2026-03-03")
    items = json.loads(run("followups", "list", "--due-before", "2026-04-01", "--json").stdout)
    assert items == [
        {
            "case_id": case_id,
            "member_code": code,
            "kind": "day_2",
            "due_date": "2026-03-03",
            "status": "reminded",
        },
        {
            "case_id": case_id,
            "member_code": code,
            "kind": "week_1",
            "due_date": "2026-03-08",
            "status": "due",
        },
    ]
    everything = json.loads(run("followups", "list", "--json").stdout)
    assert [item["kind"] for item in everything][-1] == "year_10" and len(everything) == 14
    table = run("followups", "list", "--due-before", "2026-04-01").stdout
    assert "day_2" in table and code in table


@pytest.mark.parametrize(
    "args",
    [
        ("reminders", "run", "--date", "2026-02-30"),
        ("reminders", "due", "--date", "tomorrow"),
        ("followups", "list", "--due-before", "03/01/2026"),
    ],
)
def test_a_bad_date_is_a_chinese_error_and_exit_2(run: CliRunner, args: tuple[str, ...]) -> None:
    result = run(*args, check=False)
    assert result.returncode == 2
    assert "日期格式错误" in result.stderr and "YYYY-MM-DD" in result.stderr


def test_availability_answers_pause_the_checks_and_are_audited(run: CliRunner) -> None:
    _case_id, code = _donation(run.database_url, date(2026, 3, 1))
    paused = run("donors", "availability", code, "--not-available", "--until", "2099-06-30", "--actor", "李")
    assert "暂停至 paused until 2099-06-30" in paused.stdout
    assert "下次复核 next check 2099-06-30" in paused.stdout
    refused = run("donors", "availability", code, "--not-available", check=False)
    assert refused.returncode == 2 and "暂停需要" in refused.stderr and "until" in refused.stderr
    bad = run("donors", "availability", code, "--not-available", "--until", "30/06/2099", check=False)
    assert bad.returncode == 2 and "not a date" in bad.stderr
    unknown = run("donors", "availability", "ZZ99-999999", "--available", check=False)
    assert unknown.returncode == 3 and "没有编号为 ZZ99-999999 的志愿者" in unknown.stderr
    back = run("donors", "availability", code, "--available", "--actor", "李老师")
    assert "可以捐献 available" in back.stdout
    engine = create_engine(run.database_url)
    with Session(engine) as session:
        from models.core import StageEvent
        from models.registry import Donor

        donor = session.exec(select(Donor).where(Donor.code == code)).one()
        assert donor.paused_until is None and donor.availability_checked_on is not None
        reasons = [e.reason for e in session.exec(select(StageEvent).where(StageEvent.donor_id == donor.id))]
    engine.dispose()
    assert "availability: paused until 2099-06-30" in reasons and "availability: available" in reasons


def test_a_death_is_recorded_once_stops_everything_and_bad_dates_are_refused(run: CliRunner) -> None:
    case_id, code = _donation(run.database_url, date(2026, 3, 1))
    future = run("donors", "deceased", code, "--on", "2999-01-01", check=False)
    assert future.returncode == 2 and "晚于今天" in future.stderr
    bad = run("donors", "deceased", code, "--on", "1.1.2026", check=False)
    assert bad.returncode == 2 and "日期格式错误" in bad.stderr
    done = json.loads(run("donors", "deceased", code, "--on", "2026-06-01", "--actor", "李", "--json").stdout)
    assert done == {
        "member_code": code,
        "status": "deceased",
        "messages_skipped": 0,
        "follow_ups_cancelled": 14,
        "tasks_closed": 0,
        "open_cases": [case_id],
    }
    again = run("donors", "deceased", code, "--on", "2026-06-01", check=False)
    assert again.returncode == 2 and "已登记为已故" in again.stderr
    listed = json.loads(run("followups", "list", "--json").stdout)
    assert {item["status"] for item in listed if item["case_id"] == case_id} == {"cancelled"}
