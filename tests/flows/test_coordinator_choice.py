"""The coordinator field of every form is a choice of the active coordinators and admins in the database
(issue 12 item 8), so the audit log names people the way their logins do; free text when there are none."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import Session

from flows import runtime
from flows.forms import ContactForm, ExamBookedForm
from flows.runtime import prefilled
from models.accounts import Role, set_active
from models.core import transaction
from tests.dashboard_support import add_staff, cheap_hashing

__all__ = ["cheap_hashing"]

ANSWER: dict[str, Any] = {"reached": "no"}


@pytest.fixture
def staff(wired: Session, cheap_hashing: None) -> list[str]:
    add_staff(wired, "李老师", Role.COORDINATOR)
    add_staff(wired, "admin", Role.ADMIN)
    add_staff(wired, "看板", Role.VIEWER)  # reads aggregates, answers no form
    add_staff(wired, "赵老师", Role.COORDINATOR)
    with transaction(wired):
        set_active(session=wired, name="赵老师", active=False)  # left the branch
    return ["admin", "李老师"]


def test_the_form_offers_the_active_coordinators_and_admins_only(staff: list[str]) -> None:
    names = runtime._coordinators()
    assert names == staff
    form = prefilled(ContactForm, "", {}, coordinators=names)
    field = form.model_json_schema()["properties"]["coordinator"]
    assert field["enum"] == ["admin", "李老师"]
    assert field["title"] == "协调员 Coordinator" and "审计日志" in field["description"]
    assert "coordinator" in form.model_json_schema()["required"]
    assert form(**ANSWER, coordinator="李老师").coordinator == "李老师"
    for typed in ("李老师 ", "李", "看板", "赵老师", ""):
        with pytest.raises(ValidationError):
            form(**ANSWER, coordinator=typed)


def test_a_re_asked_form_shows_the_previous_name_only_while_it_is_on_the_list(staff: list[str]) -> None:
    kept = prefilled(ExamBookedForm, "", {"coordinator": "李老师"}, note="未接受", coordinators=staff)
    field = kept.model_json_schema()["properties"]["coordinator"]
    assert field["default"] == "李老师" and field["description"].startswith("未接受")
    gone = prefilled(ExamBookedForm, "", {"coordinator": "赵老师"}, coordinators=staff)
    assert "default" not in gone.model_json_schema()["properties"]["coordinator"]


def test_with_no_staff_in_the_database_the_name_stays_free_text(wired: Session) -> None:
    assert runtime._coordinators() == []
    form = prefilled(ContactForm, "", {}, coordinators=runtime._coordinators())
    field = form.model_json_schema()["properties"]["coordinator"]
    assert field["type"] == "string" and "enum" not in field
    assert form(**ANSWER, coordinator="张老师").coordinator == "张老师"
