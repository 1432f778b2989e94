"""The follow-up answer: its form conventions and the rules between its fields, with zh-CN messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, get_args

import pytest

from models.core import ValidationError
from models.reminders import (
    FOLLOW_UP_KINDS,
    FollowUpAnswer,
    FollowUpKind,
    SpearCategory,
    check_follow_up_answer,
    follow_up_kind,
    follow_up_label,
)
from models.reminders.followup_answers import SpearChoice

NOW = datetime(2027, 3, 1, 4, tzinfo=UTC)  # 12:00 in Shanghai


def _answer(**changes: Any) -> FollowUpAnswer:
    values: dict[str, Any] = {
        "coordinator": "李老师",
        "contacted_on": date(2027, 3, 1),
        "recovered": "yes",
        "symptoms": ["none"],
        "serious_event": "no",
    }
    return FollowUpAnswer(**{**values, **changes})


def test_a_plain_recovered_answer_keeps_every_rule() -> None:
    answer = _answer()
    check_follow_up_answer(answer, NOW)
    assert answer.spear is None and answer.days_off_work == 0


def test_a_serious_event_without_its_category_is_refused_in_chinese_first() -> None:
    with pytest.raises(ValidationError) as refused:
        check_follow_up_answer(_answer(serious_event="yes", spear_description="住院三天"), NOW)
    message = str(refused.value)
    assert message.startswith("填报了严重不良事件，但未选择 S(P)EAR 类别")
    assert "a serious event needs its S(P)EAR category" in message


def test_a_category_without_a_serious_event_is_refused() -> None:
    with pytest.raises(ValidationError, match="^选择了 S\\(P\\)EAR 类别，但未填报严重不良事件"):
        check_follow_up_answer(_answer(spear_category="gcsf_related"), NOW)


def test_a_serious_event_needs_a_description() -> None:
    with pytest.raises(ValidationError, match="请简述严重不良事件"):
        check_follow_up_answer(_answer(serious_event="yes", spear_category="hospitalisation"), NOW)


def test_a_serious_event_with_category_and_description_is_a_spear() -> None:
    answer = _answer(serious_event="yes", spear_category="gcsf_related", spear_description="骨痛住院")
    check_follow_up_answer(answer, NOW)
    assert answer.spear is SpearCategory.GCSF_RELATED


@pytest.mark.parametrize(
    ("symptoms", "problem"),
    [([], "请选择症状，没有症状请选 none"), (["none", "fever"], "“无症状 none”不能与其他症状同时选择")],
)
def test_symptoms_must_be_chosen_and_none_stands_alone(symptoms: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        check_follow_up_answer(_answer(symptoms=symptoms), NOW)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        check_follow_up_answer(_answer(symptoms=[], spear_category="other"), NOW)
    assert str(refused.value).count("；") == 1


def test_a_follow_up_date_in_the_future_is_refused_on_the_shanghai_day() -> None:
    late_evening_utc = datetime(2027, 2, 28, 17, tzinfo=UTC)  # already 1 March in Shanghai
    check_follow_up_answer(_answer(contacted_on=date(2027, 3, 1)), late_evening_utc)
    with pytest.raises(ValidationError, match="随访日期 2027-03-02 在今天之后"):
        check_follow_up_answer(_answer(contacted_on=date(2027, 3, 2)), late_evening_utc)


def test_the_shape_is_checked_by_pydantic() -> None:
    with pytest.raises(Exception, match="days_off_work"):
        _answer(days_off_work=-1)
    with pytest.raises(Exception, match="symptoms"):
        _answer(symptoms=["toothache"])


def test_the_form_choices_are_the_spear_categories_and_none() -> None:
    assert set(get_args(SpearChoice)) == {"none", *(c.value for c in SpearCategory)}


def test_the_form_is_ordered_titled_and_bilingual() -> None:
    properties = FollowUpAnswer.model_json_schema()["properties"]
    ordered = sorted(properties, key=lambda name: properties[name]["position"])
    assert ordered == [
        "coordinator",
        "contacted_on",
        "recovered",
        "symptoms",
        "days_off_work",
        "medication",
        "serious_event",
        "spear_category",
        "spear_description",
    ]
    assert properties["recovered"]["title"] == "已康复 Recovered?"
    # the serious-event flag is a choice that must be made, never a switch left off
    assert "serious_event" in FollowUpAnswer.model_json_schema()["required"]


def test_kinds_and_labels_translate_both_ways_and_an_unknown_kind_names_the_valid_ones() -> None:
    assert FOLLOW_UP_KINDS[0] == "day_2" and FOLLOW_UP_KINDS[-1] == "year_10" and len(FOLLOW_UP_KINDS) == 14
    assert follow_up_label("month_1") == "month-1" and follow_up_kind("year-10") == "year_10"
    with pytest.raises(ValidationError, match="未知的随访类型 unknown follow-up kind 'month_2'.*month_6"):
        follow_up_label("month_2")


def test_the_kind_parameter_type_offers_exactly_the_schedule_s_kinds_in_order() -> None:
    assert get_args(FollowUpKind) == FOLLOW_UP_KINDS
