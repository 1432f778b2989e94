"""Dates a coordinator sees: follow-ups in calendar months and years, and "today" in Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from models.cases import (
    ContactAnswer,
    DonationBooked,
    DonationCompleted,
    ExamBooked,
    ExamResult,
    HighResResult,
    SampleBooked,
    SampleSent,
    follow_up_dates,
    form_defaults,
    today,
)


def test_follow_ups_of_a_leap_day_donation_fall_on_28_february_in_common_years() -> None:
    due = dict(follow_up_dates(date(2020, 2, 29)))
    assert due["day-2"] == date(2020, 3, 2)
    assert due["week-1"] == date(2020, 3, 7)
    assert due["month-1"] == date(2020, 3, 29)
    assert due["month-6"] == date(2020, 8, 29)
    assert due["year-1"] == date(2021, 2, 28)
    assert due["year-2"] == date(2022, 2, 28)
    assert due["year-4"] == date(2024, 2, 29)  # a leap year again: the anniversary itself
    assert due["year-10"] == date(2030, 2, 28)


def test_follow_ups_of_a_month_end_donation_clamp_to_the_last_day_of_shorter_months() -> None:
    due = dict(follow_up_dates(date(2021, 1, 31)))
    assert due["month-1"] == date(2021, 2, 28)
    assert due["month-6"] == date(2021, 7, 31)
    assert due["year-2"] == date(2023, 1, 31)
    assert due["year-10"] == date(2031, 1, 31)
    assert dict(follow_up_dates(date(2020, 1, 31)))["month-1"] == date(2020, 2, 29)
    assert dict(follow_up_dates(date(2020, 8, 31)))["month-6"] == date(2021, 2, 28)


def test_follow_up_labels_are_the_dkms_schedule_in_order() -> None:
    labels = [label for label, _ in follow_up_dates(date(2021, 6, 14))]
    assert labels == ["day-2", "week-1", "month-1", "month-6", *(f"year-{n}" for n in range(1, 11))]


def test_today_is_the_shanghai_date_on_a_server_in_utc() -> None:
    late_evening_utc = datetime(2021, 6, 14, 17, 0, tzinfo=UTC)  # 01:00 on the 15th in Shanghai
    assert today(late_evening_utc) == date(2021, 6, 15)
    assert today(datetime(2021, 6, 14, 15, 59, tzinfo=UTC)) == date(2021, 6, 14)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (ContactAnswer, {"available_from": date(2021, 6, 15), "available_to": date(2021, 9, 13)}),
        (ExamResult, {"result_date": date(2021, 6, 15), "deferred_until": date(2021, 6, 15)}),
        (DonationCompleted, {"collected_on": date(2021, 6, 15)}),
        (SampleSent, {"sample_date": date(2021, 6, 15)}),
        (HighResResult, {"result_date": date(2021, 6, 15)}),
        (SampleBooked, {}),  # a booking is for a day ahead: no likely default
        (ExamBooked, {}),
        (DonationBooked, {}),
    ],
)
def test_date_pickers_default_to_the_shanghai_day_the_form_is_shown(
    form: type[ContactAnswer], expected: dict[str, date]
) -> None:
    assert form_defaults(form, datetime(2021, 6, 14, 17, 0, tzinfo=UTC)) == expected
