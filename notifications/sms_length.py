"""How many SMS parts a text costs (3GPP TS 23.038 alphabets, TS 23.040 concatenation).

A text entirely in the GSM 7-bit alphabet goes as 160 septets in one part, 153 per part when split (the
other 7 carry the concatenation header); the extension characters (e.g. `[`, `€`) take two septets.
Anything else (Chinese) goes as UCS-2: 70 UTF-16 units in one part, 67 per part; a character outside
the Basic Multilingual Plane (an emoji) is a surrogate pair, two units. Neither an escaped extension
character nor a surrogate pair is split across two parts, as handsets and gateways do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SmsLength", "sms_length", "sms_parts"]

# TS 23.038 §6.2.1 default alphabet (ESC 0x1B is not a character) and its extension table.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_SINGLE = {"gsm7": 160, "ucs2": 70}
_PER_PART = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True)
class SmsLength:
    encoding: Literal["gsm7", "ucs2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


def _gsm7_costs(text: str) -> list[int] | None:
    costs: list[int] = []
    for char in text:
        if char in _GSM7_BASIC:
            costs.append(1)
        elif char in _GSM7_EXTENSION:
            costs.append(2)
        else:
            return None
    return costs


def sms_length(text: str) -> SmsLength:
    """The encoding, size and number of parts of `text` (an empty text still costs one part)."""
    gsm = _gsm7_costs(text)
    encoding: Literal["gsm7", "ucs2"] = "gsm7" if gsm is not None else "ucs2"
    costs = gsm if gsm is not None else [2 if ord(char) > 0xFFFF else 1 for char in text]
    units = sum(costs)
    if units <= _SINGLE[encoding]:
        return SmsLength(encoding, units, 1)
    limit, parts, used = _PER_PART[encoding], 1, 0
    for cost in costs:  # greedy, never splitting a two-unit character
        if used + cost > limit:
            parts, used = parts + 1, 0
        used += cost
    return SmsLength(encoding, units, parts)


def sms_parts(text: str) -> int:
    """How many SMS parts `text` is sent as."""
    return sms_length(text).parts
