"""The follow-up schedule after a stem-cell donation: which contacts are due, and when."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

__all__ = ["FOLLOW_UP_SCHEDULE", "add_months", "follow_up_dates"]

# DKMS practice: day 2, week 1, month 1, month 6, then yearly for 10 years (DESIGN.md §6), as
# (label, days, calendar months) after the donation: anniversaries are calendar dates, not day counts.
FOLLOW_UP_SCHEDULE: tuple[tuple[str, int, int], ...] = (
    ("day-2", 2, 0),
    ("week-1", 7, 0),
    ("month-1", 0, 1),
    ("month-6", 0, 6),
    *((f"year-{n}", 0, 12 * n) for n in range(1, 11)),
)


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later; past the end of a shorter month, its last day
    (31 Jan + 1 month → 28 or 29 Feb; 29 Feb + 1 year → 28 Feb in a common year)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def follow_up_dates(donated_on: date) -> list[tuple[str, date]]:
    """The follow-up schedule of a donation on `donated_on`: (label, due date), earliest first."""
    return [
        (label, add_months(donated_on, months) + timedelta(days=days))
        for label, days, months in FOLLOW_UP_SCHEDULE
    ]
