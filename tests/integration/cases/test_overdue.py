"""The overdue query: active cases whose stage deadline has passed, oldest first, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from models.cases import CaseStage, overdue_cases
from tests.factories import add_case

NOW = datetime(2021, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def test_only_active_cases_past_their_deadline_are_overdue_oldest_first(session: Session) -> None:
    late = add_case(session, stage=CaseStage.EXAM, due_at=NOW - timedelta(hours=1))
    later = add_case(session, stage=CaseStage.HIGH_RES_TYPING, due_at=NOW - timedelta(days=3))
    add_case(session, due_at=NOW + timedelta(hours=1))  # before its deadline
    add_case(session, due_at=NOW)  # due this very minute: not yet past it
    add_case(session, due_at=NOW - timedelta(days=9), status="closed")  # closed cases wait for nothing
    add_case(session, due_at=None)  # a stage without a deadline
    rows = overdue_cases(session=session, now=NOW)
    assert [row["case_id"] for row in rows] == [later.id, late.id]
    assert rows[0]["stage"] == "high_res_typing" and rows[1]["stage"] == "exam"


def test_overdue_rows_show_the_member_code_and_the_shanghai_time_never_the_name(session: Session) -> None:
    case = add_case(session, name="欧阳娜娜", due_at=datetime(2021, 5, 31, 16, 30, tzinfo=UTC))
    (row,) = overdue_cases(session=session, now=NOW)
    assert row["due"] == "2021-06-01 00:30"  # 16:30 UTC is half past midnight the next day in Shanghai
    assert row["member"].startswith("TT21-") and row["case_id"] == case.id
    shown = str(row)
    # "138" alone would also match a member code such as TT21-000138: look for the phone itself.
    assert "欧阳娜娜" not in shown and "13800138000" not in shown and "0013800" not in shown


def test_nothing_overdue_is_an_empty_list(session: Session) -> None:
    add_case(session, due_at=NOW + timedelta(days=1))
    assert overdue_cases(session=session, now=NOW) == []
