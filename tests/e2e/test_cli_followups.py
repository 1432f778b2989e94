"""`donorflow followups spear-report`: a real process and database; the S(P)EARs of a period with their
counts, as CSV for Excel (formulas neutralised, numbers masked) or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from models.cases import CaseStage, FollowUp, follow_up_dates
from models.core import transaction
from models.reminders import FollowUpAnswer, SpearCategory, record_follow_up
from tests.databases import fresh_database
from tests.e2e.test_cli import CliRunner
from tests.factories import add_case


@pytest.fixture
def run(tmp_path: Path) -> Iterator[CliRunner]:
    with fresh_database("sqlite", tmp_path) as url:
        yield CliRunner(url, tmp_path)


def _spear(session: Session, kind: str, category: str, on: date, description: str) -> str:
    case = add_case(session, stage=CaseStage.FOLLOW_UP)
    with transaction(session):
        for label, due_on in follow_up_dates(date(2020, 1, 6)):
            session.add(FollowUp(case_id=case.id, donor_id=case.donor_id, label=label, due_on=due_on))
    answer = FollowUpAnswer(
        coordinator="李老师",
        contacted_on=on,
        recovered="no",
        symptoms=["bone_pain"],
        serious_event="yes",
        spear_category=category,
        spear_description=description,
    )
    with transaction(session):
        record_follow_up(
            session=session,
            case_id=case.id,
            kind=kind,
            answer=answer,
            actor="coordinator:李老师",
            now=datetime(2026, 3, 10, 4, tzinfo=UTC),
        )
    return case.id


def test_spear_report_lists_the_period_with_counts_as_csv_and_json(run: CliRunner) -> None:
    engine = create_engine(run.database_url)
    with Session(engine) as session:
        inside = _spear(
            session, "day_2", "gcsf_related", date(2026, 1, 8), '=HYPERLINK("x") 电话 13812345678'
        )
        second = _spear(session, "month_1", "hospitalisation", date(2026, 2, 6), "住院观察两天")
        _spear(session, "year_1", "other", date(2025, 12, 31), "period before")
    engine.dispose()

    report = json.loads(
        run("followups", "spear-report", "--from", "2026-01-01", "--to", "2026-03-31", "--json").stdout
    )
    assert [(e["case_id"], e["follow_up"], e["category"], e["contacted_on"]) for e in report["events"]] == [
        (inside, "day_2", "gcsf_related", "2026-01-08"),
        (second, "month_1", "hospitalisation", "2026-02-06"),
    ]
    assert report["events"][0]["member_code"].startswith("TT21-")
    assert report["events"][0]["description"] == '=HYPERLINK("x") 电话 138****5678'
    assert set(report["counts"]) == {c.value for c in SpearCategory}
    assert (report["counts"]["gcsf_related"], report["counts"]["other"], report["total"]) == (1, 0, 2)

    text = run("followups", "spear-report", "--from", "2026-01-01").stdout
    assert text.startswith("\ufeff") and "13812345678" not in text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["case_id", "member_code", "follow_up", "category", "contacted_on", "description"]
    assert rows[1][0] == inside and rows[1][5].startswith("'=HYPERLINK")  # no formula reaches Excel
    assert ["gcsf_related", "1"] in rows and ["total", "2"] in rows

    everything = json.loads(run("followups", "spear-report", "--json").stdout)
    assert everything["total"] == 3 and everything["counts"]["other"] == 1


def test_spear_report_refuses_a_period_that_ends_before_it_starts(run: CliRunner) -> None:
    result = run("followups", "spear-report", "--from", "2026-02-01", "--to", "2026-01-01", check=False)
    assert result.returncode == 2 and "早于开始日期" in result.stderr
    bad = run("followups", "spear-report", "--from", "1 Jan", check=False)
    assert bad.returncode == 2 and "not a date" in bad.stderr
