"""The branch's clock: times are stored in UTC and shown, dated and scheduled in Asia/Shanghai (STYLE.md)."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "add_months", "birthday", "local_date"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar day a timezone-aware moment falls on in Shanghai."""
    return moment.astimezone(SHANGHAI).date()


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (or earlier); past the end of a shorter month, its last day
    (31 Jan + 1 month → 28 or 29 Feb; 29 Feb + 1 year → 28 Feb in a common year)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def birthday(birth_date: date, age: int) -> date:
    """The day a member born on `birth_date` turns `age`: a 29 February birth turns it on 28 February in a
    common year (the day before 1 March: the whole of the last year of age has passed). One rule for the
    registry's age limit everywhere: the reminder engine's retirements and the demo year's."""
    return add_months(birth_date, 12 * age)
