"""The dispatcher's rules without a database: quiet hours, backoff, channel choice, withdrawal, opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from models.core import SHANGHAI, ValidationError
from models.outreach import (
    Dead,
    Deliver,
    QuietHours,
    Recipient,
    Skip,
    mask_address,
    parse_quiet_hours,
    quiet_until,
    retry_delay,
    route_member,
)

NIGHT = QuietHours(time(21, 0), time(8, 0))
ALL = ("sms", "email", "wechat")


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


# -- quiet hours ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("moment", "until"),
    [
        (shanghai(10, 20, 59), None),
        (shanghai(10, 21, 0), shanghai(11, 8, 0)),
        (shanghai(10, 23, 30), shanghai(11, 8, 0)),
        (shanghai(11, 0, 0), shanghai(11, 8, 0)),
        (shanghai(11, 7, 59), shanghai(11, 8, 0)),
        (shanghai(11, 8, 0), None),
        (shanghai(11, 12, 0), None),
    ],
)
def test_quiet_hours_crossing_midnight_hold_until_eight_in_the_morning(
    moment: datetime, until: datetime | None
) -> None:
    assert quiet_until(moment, NIGHT) == until


def test_quiet_hours_work_on_utc_moments_and_answer_in_utc() -> None:
    moment = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai
    until = quiet_until(moment, NIGHT)
    assert until == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert until is not None and until.tzinfo == UTC


@pytest.mark.parametrize(
    ("moment", "until"),
    [
        (shanghai(10, 12, 59), None),
        (shanghai(10, 13, 0), shanghai(10, 14, 0)),
        (shanghai(10, 13, 59), shanghai(10, 14, 0)),
        (shanghai(10, 14, 0), None),
        (shanghai(10, 23, 0), None),
    ],
)
def test_a_window_within_one_day_holds_only_inside_it(moment: datetime, until: datetime | None) -> None:
    assert quiet_until(moment, parse_quiet_hours("13:00-14:00")) == until


def test_empty_quiet_hours_switch_them_off() -> None:
    assert parse_quiet_hours("") is None
    assert parse_quiet_hours("  ") is None
    assert quiet_until(shanghai(10, 3), None) is None


def test_the_default_setting_parses_to_nine_pm_until_eight_am() -> None:
    assert parse_quiet_hours("21:00-08:00") == NIGHT
    assert str(NIGHT) == "21:00-08:00"


@pytest.mark.parametrize("spec", ["21-08", "25:00-08:00", "21:00-08:61", "21:00-21:00", "night"])
def test_a_malformed_window_is_refused_naming_the_expected_form(spec: str) -> None:
    with pytest.raises(ValidationError, match="HH:MM|time of day|same"):
        parse_quiet_hours(spec)


# -- backoff ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (50, 3600)]
)
def test_backoff_grows_exponentially_from_the_base_up_to_the_cap(attempts: int, ceiling: float) -> None:
    highest = retry_delay(attempts, base=30, cap=3600, uniform=lambda low, high: high)
    lowest = retry_delay(attempts, base=30, cap=3600, uniform=lambda low, high: low)
    assert highest == timedelta(seconds=ceiling)
    assert lowest == timedelta(0)


def test_backoff_jitter_spreads_retries_over_the_whole_window() -> None:
    delays = [retry_delay(3, base=30, cap=3600).total_seconds() for _ in range(300)]
    assert all(0 <= d <= 120 for d in delays)
    assert min(delays) < 40 and max(delays) > 80  # full jitter, not a fixed wait


# -- channel choice ------------------------------------------------------------------------------------
def member(**changes: object) -> Recipient:
    values: dict[str, object] = {
        "donor_id": 1,
        "code": "ZZ21-000001",
        "phone": "13800138000",
        "email": "wang@example.org",
        "wechat_openid": "oAbCdEfGhIjKlMn",
        "preferred_channel": "sms",
    }
    values.update(changes)
    return Recipient(**values)  # type: ignore[arg-type]


def route(
    recipient: Recipient | None, channel: str | None = None, configured: tuple[str, ...] = ALL
) -> object:
    return route_member(
        template_key="registration_welcome",
        channel=channel,
        address_snapshot=None,
        recipient=recipient,
        configured=configured,
    )


@pytest.mark.parametrize(
    ("changes", "configured", "expected"),
    [
        ({}, ALL, Deliver("sms", "+8613800138000")),
        ({"preferred_channel": "email"}, ALL, Deliver("email", "wang@example.org")),
        ({"preferred_channel": "wechat"}, ALL, Deliver("wechat", "oAbCdEfGhIjKlMn")),
        ({"preferred_channel": "email"}, ("sms", "wechat"), Deliver("sms", "+8613800138000")),
        ({"opted_out": frozenset({"sms"})}, ALL, Deliver("wechat", "oAbCdEfGhIjKlMn")),
        ({"opted_out": frozenset({"sms"}), "wechat_openid": None}, ALL, Deliver("email", "wang@example.org")),
        ({"phone": None}, ALL, Deliver("wechat", "oAbCdEfGhIjKlMn")),
        ({"phone": None, "wechat_openid": None}, ("sms",), Dead("no channel")),
        ({"opted_out": frozenset(ALL)}, ALL, Skip("opted out")),
        ({"opted_out": frozenset({"sms"}), "email": None, "wechat_openid": None}, ALL, Skip("opted out")),
        ({"phone": None, "email": None, "wechat_openid": None}, ALL, Dead("no channel")),
        ({}, (), Dead("no channel")),
        ({"preferred_channel": "fax"}, ALL, Deliver("sms", "+8613800138000")),
    ],
)
def test_channel_choice_preferred_then_sms_wechat_email(
    changes: dict[str, object], configured: tuple[str, ...], expected: object
) -> None:
    assert route(member(**changes), configured=configured) == expected


@pytest.mark.parametrize(
    ("channel", "changes", "expected"),
    [
        ("sms", {"preferred_channel": "email"}, Deliver("sms", "+8613800138000")),
        ("email", {}, Deliver("email", "wang@example.org")),
        ("sms", {"opted_out": frozenset({"sms"})}, Skip("opted out")),
        ("sms", {"phone": None}, Dead("no channel")),
        ("wechat", {"wechat_openid": None}, Dead("no channel")),
    ],
)
def test_a_row_with_its_own_channel_uses_only_that_channel(
    channel: str, changes: dict[str, object], expected: object
) -> None:
    assert route(member(**changes), channel=channel) == expected


def test_a_row_whose_channel_is_not_configured_here_is_dead() -> None:
    assert route(member(), channel="wechat", configured=("sms",)) == Dead("no channel")


def test_withdrawn_consent_skips_every_message_even_with_addresses_left() -> None:
    assert route(member(withdrawn=True)) == Skip("withdrawn")
    assert route(member(withdrawn=True), channel="sms") == Skip("withdrawn")


@pytest.mark.parametrize("template_key", ["follow_up", "availability_check", "withdrawal_confirmation"])
def test_a_deceased_member_is_sent_nothing_even_with_addresses_and_a_snapshot(template_key: str) -> None:
    dead = member(deceased=True)
    for channel, snapshot in ((None, None), ("sms", "13800138000")):
        routed = route_member(
            template_key=template_key,
            channel=channel,
            address_snapshot=snapshot,
            recipient=dead,
            configured=ALL,
        )
        assert routed == Skip("deceased")


@pytest.mark.parametrize(
    ("channel", "snapshot", "expected"),
    [
        ("sms", "13900139000", Deliver("sms", "+8613900139000")),
        (None, "13900139000", Deliver("sms", "+8613900139000")),
        ("email", "li@example.org", Deliver("email", "li@example.org")),
        (None, "li@example.org", Deliver("email", "li@example.org")),
    ],
)
def test_the_withdrawal_confirmation_goes_to_the_address_kept_for_it(
    channel: str | None, snapshot: str, expected: Deliver
) -> None:
    erased = member(withdrawn=True, phone=None, email=None, wechat_openid=None)
    decided = route_member(
        template_key="withdrawal_confirmation",
        channel=channel,
        address_snapshot=snapshot,
        recipient=erased,
        configured=ALL,
    )
    assert decided == expected


def test_a_withdrawal_confirmation_without_a_kept_address_reaches_no_one() -> None:
    erased = member(withdrawn=True, phone=None, email=None, wechat_openid=None)
    decided = route_member(
        template_key="withdrawal_confirmation",
        channel="sms",
        address_snapshot=None,
        recipient=erased,
        configured=ALL,
    )
    assert decided == Skip("withdrawn")


def test_a_missing_member_is_dead_not_skipped() -> None:
    assert route(None) == Dead("no such member")


def test_a_recipient_never_shows_an_address_in_its_repr() -> None:
    shown = repr(member())
    assert "13800138000" not in shown and "wang@example.org" not in shown and "oAbCdEfGhIjKlMn" not in shown
    assert "138****8000" in shown


@pytest.mark.parametrize(
    ("channel", "address", "shown"),
    [
        ("sms", "+8613800138000", "138****8000"),
        ("email", "wang@example.org", "w***@example.org"),
        ("wechat", "oAbCdEfGhIjKlMn", "oAbC…"),
        ("webhook", "group-bot", "grou…"),
        ("sms", None, ""),
    ],
)
def test_addresses_are_masked_for_log_lines(channel: str, address: str | None, shown: str) -> None:
    assert mask_address(channel, address) == shown
