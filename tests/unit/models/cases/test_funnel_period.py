"""A period as a data manager types it (`funnel --from --to`): checked in the service, not the CLI."""

from __future__ import annotations

from datetime import date

import pytest

from models.cases import funnel_period
from models.core import ValidationError


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2021-13-01", "2021-12-31", "from: 日期格式错误 '2021-13-01' is not a date"),
        ("2021-01-01", "31.12.2021", "to: 日期格式错误 '31.12.2021' is not a date"),
        ("2021-12-31", "2021-01-01", "期间结束早于开始 the period ends before it starts"),
        # 9999-12-31 made the dashboard answer 500 (the day after it does not exist).
        ("0001-01-01", "9999-12-31", "期间须在 1900-01-01 至 2199-12-31 之间"),
        ("2021-01-01", "2200-01-01", "the period must lie between 1900-01-01 and 2199-12-31"),
    ],
)
def test_a_typed_period_that_is_not_one_is_our_validation_error(start: str, end: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        funnel_period(start, end)


def test_a_typed_period_is_its_first_and_last_day() -> None:
    assert funnel_period(" 2021-01-01", "2021-12-31") == (date(2021, 1, 1), date(2021, 12, 31))
