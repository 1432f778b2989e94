"""The follow-up schedule after a stem-cell donation: which contacts are due, and when."""

from __future__ import annotations

from datetime import date, timedelta

from models.core import add_months

__all__ = ["FOLLOW_UP_SCHEDULE", "add_months", "follow_up_dates"]  # add_months: models.core, kept here too

# DKMS practice: day 2, week 1, month 1, month 6, then yearly for 10 years (DESIGN.md §6), as
# (label, days, calendar months) after the donation: anniversaries are calendar dates, not day counts.
FOLLOW_UP_SCHEDULE: tuple[tuple[str, int, int], ...] = (
    ("day-2", 2, 0),
    ("week-1", 7, 0),
    ("month-1", 0, 1),
    ("month-6", 0, 6),
    *((f"year-{n}", 0, 12 * n) for n in range(1, 11)),
)


def follow_up_dates(donated_on: date) -> list[tuple[str, date]]:
    """The follow-up schedule of a donation on `donated_on`: (label, due date), earliest first."""
    return [
        (label, add_months(donated_on, months) + timedelta(days=days))
        for label, days, months in FOLLOW_UP_SCHEDULE
    ]
