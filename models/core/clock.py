"""The branch's clock: times are stored in UTC and shown, dated and scheduled in Asia/Shanghai (STYLE.md)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "local_date"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar day a timezone-aware moment falls on in Shanghai."""
    return moment.astimezone(SHANGHAI).date()
