"""The dispatcher's rules, as plain functions (DESIGN.md §5, issue 10 item 5): which channel reaches a
member, what withdrawn consent and opt-outs mean, quiet hours, retry backoff. No I/O: unit-tested
without a database.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from models.core import SHANGHAI, ValidationError, mask_email, mask_phone

__all__ = [
    "CHANNEL_ORDER",
    "MEMBER_CHANNELS",
    "WITHDRAWAL_CONFIRMATION",
    "Dead",
    "Deliver",
    "QuietHours",
    "Recipient",
    "Route",
    "Skip",
    "mask_address",
    "parse_quiet_hours",
    "quiet_until",
    "retry_delay",
    "route_member",
]

MEMBER_CHANNELS = ("sms", "email", "wechat")
# After the member's preferred channel, the fallbacks in this order (catalogue.md: channel choice).
CHANNEL_ORDER = ("sms", "wechat", "email")
# The one message that still goes out after consent is withdrawn: to the address copied when it was queued.
WITHDRAWAL_CONFIRMATION = "withdrawal_confirmation"


@dataclass(frozen=True)
class Recipient:
    """A member's contact details and choices, read at send time (an opt-out or withdrawal in between is
    honoured). In memory only: its repr masks every address."""

    donor_id: int
    code: str
    phone: str | None = None
    email: str | None = None
    wechat_openid: str | None = None
    preferred_channel: str = "sms"
    opted_out: frozenset[str] = field(default_factory=frozenset)
    withdrawn: bool = False
    deceased: bool = False  # reported dead: nothing more is sent, not even to an address kept

    def address(self, channel: str) -> str | None:
        if channel == "sms":
            return international_phone(self.phone)
        if channel == "email":
            return self.email or None
        if channel == "wechat":
            return self.wechat_openid or None
        return None

    def __repr__(self) -> str:
        return (
            f"Recipient(donor_id={self.donor_id}, code={self.code!r}, phone={mask_phone(self.phone)!r}, "
            f"email={mask_email(self.email)!r}, wechat={mask_address('wechat', self.wechat_openid)!r}, "
            f"preferred={self.preferred_channel!r}, opted_out={sorted(self.opted_out)}, "
            f"withdrawn={self.withdrawn}, deceased={self.deceased})"
        )

    __str__ = __repr__


def international_phone(phone: str | None) -> str | None:
    """The gateway wants +86…: the registry keeps mainland mobiles as their 11 digits (intake.cells)."""
    if not phone:
        return None
    phone = phone.strip()
    if phone.startswith("+"):
        return phone
    return f"+86{phone}"


def mask_address(channel: str, address: str | None) -> str:
    """What a log line may show of an address: 138****1234, a***@example.org, oAbC…(openid)."""
    if not address:
        return ""
    if channel == "sms":
        return mask_phone(address)
    if channel == "email" or "@" in address:
        return mask_email(address)
    return address[:4] + "…" if len(address) > 8 else "…"


# -- where a message goes ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Deliver:
    channel: str
    address: str


@dataclass(frozen=True)
class Skip:
    """Not sent on purpose (the member's choice): no retry, no alert."""

    reason: str


@dataclass(frozen=True)
class Dead:
    """Cannot be sent at all: dead-lettered, and the coordinators are alerted."""

    reason: str


Route = Deliver | Skip | Dead


def route_member(
    *,
    template_key: str,
    channel: str | None,
    address_snapshot: str | None,
    recipient: Recipient | None,
    configured: Collection[str],
) -> Route:
    """The channel and address for a message to a member, or why it is skipped or dead.

    The row's own `channel`, when set, is the only choice; otherwise the member's preferred channel, then
    sms, wechat, email (catalogue.md), skipping a channel not configured here, opted out, or without an
    address. Withdrawn consent stops everything but the withdrawal confirmation, which goes to the address
    copied when it was queued (DESIGN.md §8: the erasure must not stop the one message confirming it).
    A member opted out of every channel that could reach them is skipped (their choice), not dead.
    """
    if recipient is None:
        return Dead("no such member")
    if recipient.deceased:
        return Skip("deceased")
    if template_key == WITHDRAWAL_CONFIRMATION and address_snapshot:
        used = channel or ("email" if "@" in address_snapshot else "sms")
        if used not in configured:
            return Dead("no channel")
        if used in recipient.opted_out:
            return Skip("opted out")
        address = international_phone(address_snapshot) if used == "sms" else address_snapshot
        assert address is not None
        return Deliver(used, address)
    if recipient.withdrawn:
        return Skip("withdrawn")
    candidates = [channel] if channel else _fallbacks(recipient.preferred_channel)
    refused = False
    for candidate in candidates:
        address = recipient.address(candidate)
        if candidate not in configured or address is None:
            continue
        if candidate in recipient.opted_out:
            refused = True
            continue
        return Deliver(candidate, address)
    return Skip("opted out") if refused else Dead("no channel")


def _fallbacks(preferred: str) -> list[str]:
    first = [preferred] if preferred in MEMBER_CHANNELS else []
    return first + [c for c in CHANNEL_ORDER if c not in first]


# -- quiet hours --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuietHours:
    """A daily window in Asia/Shanghai during which non-urgent messages to members wait: [start, end)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_quiet_hours(spec: str) -> QuietHours | None:
    """`21:00-08:00` (DESIGN.md §5 default; may cross midnight); empty switches quiet hours off."""
    if not spec.strip():
        return None
    match = _WINDOW.match(spec)
    if match is None:
        raise ValidationError(f"quiet hours {spec!r}: expected HH:MM-HH:MM, e.g. 21:00-08:00")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValidationError(f"quiet hours {spec!r}: not a time of day")
    if (h1, m1) == (h2, m2):
        raise ValidationError(f"quiet hours {spec!r}: start and end are the same")
    return QuietHours(time(h1, m1), time(h2, m2))


def quiet_until(now: datetime, window: QuietHours | None) -> datetime | None:
    """The end of the quiet window `now` falls in (timezone-aware, as `now`), or None outside it."""
    if window is None:
        return None
    local = now.astimezone(SHANGHAI)
    clock = local.time().replace(tzinfo=None)
    if window.start < window.end:
        inside = window.start <= clock < window.end
    else:  # crosses midnight: 21:00-08:00 is 21:00-24:00 and 00:00-08:00
        inside = clock >= window.start or clock < window.end
    if not inside:
        return None
    end = datetime.combine(local.date(), window.end, tzinfo=SHANGHAI)
    if end <= local:  # the evening part of a window crossing midnight ends tomorrow morning
        end += timedelta(days=1)
    return end.astimezone(now.tzinfo)


# -- retries --------------------------------------------------------------------------------------------
def retry_delay(
    attempts: int, *, base: float, cap: float, uniform: Callable[[float, float], float] = random.uniform
) -> timedelta:
    """The wait before the next try after `attempts` failed tries: exponential from `base` seconds, capped,
    with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter": a uniform draw in
    [0, min(cap, base·2^(n-1))], so retries of a gateway outage do not all arrive at the same second)."""
    ceiling = min(cap, base * 2 ** min(max(attempts - 1, 0), 32))
    return timedelta(seconds=uniform(0.0, ceiling))
