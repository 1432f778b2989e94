"""Dates and times as sign-up sheets write them (2021-3-5, 2021年3月5日, 20210305, with or without a time)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from models.core import SHANGHAI

__all__ = ["LOCAL_TZ", "parse_sheet_date", "parse_sheet_datetime"]


LOCAL_TZ = SHANGHAI  # naive sheet times are the branch's local time
_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")
# What may follow the date: nothing, or a time with an optional UTC offset ("T10:30:00+08:00", " 10:30").
_TIME_RE = re.compile(
    r"(?:(?:T|\s*)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:(Z)|([+-])(\d{2}):?(\d{2}))?)?\s*"
)


def parse_sheet_date(value: str) -> date | None:
    """2021-05-01, 2021/5/1, 2021.5.1, 2021年5月1日, 20210501; a midnight time is allowed (from Excel)."""
    text = unicodedata.normalize("NFKC", value).strip()
    match = _DATE_RE.match(text)
    if match is None or text[match.end() :].strip() not in ("", "00:00", "00:00:00", "T00:00:00"):
        return None
    return _date_of(match)


def parse_sheet_datetime(value: str) -> datetime | None:
    """A date with an optional time and UTC offset; without an offset it is Asia/Shanghai local time."""
    text = unicodedata.normalize("NFKC", value).strip()
    match = _DATE_RE.match(text)
    rest = _TIME_RE.fullmatch(text, match.end()) if match is not None else None
    day = _date_of(match) if match is not None else None
    if rest is None or day is None:
        return None
    hour, minute, second, zulu, sign, offset_hours, offset_minutes = rest.groups()
    zone: tzinfo = LOCAL_TZ
    if zulu:
        zone = UTC
    elif sign:
        offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
        if offset >= timedelta(hours=24):
            return None
        zone = timezone(-offset if sign == "-" else offset)
    try:
        clock = time(int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=zone).astimezone(LOCAL_TZ)


def _date_of(match: re.Match[str]) -> date | None:
    year, month, day = (int(part) for part in match.groups() if part is not None)
    try:
        return date(year, month, day)
    except ValueError:
        return None
