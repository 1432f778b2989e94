"""The 2021 calendar: the year, its time zone, the State Council's holidays and the weekend days worked in
exchange, and the few date helpers the plan is built on. Coordinators work on working days, drives avoid
the Spring Festival, the July flood and August's outbreak, and every moment is planned in Asia/Shanghai
and kept in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from models.core import SHANGHAI, local_date

__all__ = [
    "NO_DRIVES",
    "SHANGHAI",
    "TERM_BREAKS",
    "YEAR",
    "YEAR_END",
    "at_minute",
    "date_range",
    "is_workday",
    "local_day",
    "workday_from",
]

YEAR = 2021
YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _span(first: str, last: str) -> set[date]:
    return set(date_range(date.fromisoformat(first), date.fromisoformat(last)))


# The State Council's holidays (2021, and autumn 2020 for searches begun then) and the weekend days
# worked in exchange (调休).
_SPRING_FESTIVAL = _span("2021-02-11", "2021-02-17")
_HOLIDAYS = (
    _span("2020-10-01", "2020-10-08")
    | _span("2021-01-01", "2021-01-03")
    | _SPRING_FESTIVAL
    | _span("2021-04-03", "2021-04-05")
    | _span("2021-05-01", "2021-05-05")
    | _span("2021-06-12", "2021-06-14")
    | _span("2021-09-19", "2021-09-21")
    | _span("2021-10-01", "2021-10-07")
)
_MAKEUP_WORKDAYS = {
    date.fromisoformat(d)
    for d in (
        "2020-09-27",
        "2020-10-10",
        "2021-02-07",
        "2021-02-20",
        "2021-04-25",
        "2021-05-08",
        "2021-09-18",
        "2021-09-26",
        "2021-10-09",
    )
}
# No drives in the Spring Festival, nor after the 20 July flood and during August's Delta outbreak.
NO_DRIVES = _SPRING_FESTIVAL | _span("2021-07-20", "2021-08-31")
TERM_BREAKS = _span("2021-01-16", "2021-02-28") | _span("2021-07-03", "2021-08-31")


def is_workday(day: date) -> bool:
    return day in _MAKEUP_WORKDAYS or (day.weekday() < 5 and day not in _HOLIDAYS)


def workday_from(day: date) -> date:
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def at_minute(day: date, minute: int) -> datetime:
    """`minute` after local midnight of `day`, as UTC."""
    return datetime.combine(day, time(minute // 60, minute % 60), SHANGHAI).astimezone(UTC)


local_day = local_date  # the day a moment falls on in Zhengzhou
