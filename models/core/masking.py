"""Masking of personal data for logs, artifacts, errors and public forms (STYLE.md: `张*`, `138****1234`)."""

from __future__ import annotations

import logging
import re

__all__ = [
    "PiiMaskingFilter",
    "install_record_masking",
    "mask_email",
    "mask_name",
    "mask_national_id",
    "mask_phone",
    "mask_text",
]


def mask_name(name: str | None) -> str:
    """Keep the first character (the family name in Chinese), star the rest: 张三丰 → 张**."""
    if not name:
        return ""
    name = name.strip()
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str:
    """138****1234: the carrier prefix and the last four digits only."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_national_id(national_id: str | None) -> str:
    """410102************: the 6-digit region code only (GB 11643-1999: region, birth date, sequence, check).

    With the stored birth date, the sequence and check digit left by the old mask (4101**********123X)
    made the ID one of ~10 candidates. The region code alone is a county shared by hundreds of thousands,
    useful to a coordinator confirming a member's identity; without the salt nothing leads from it to the
    number, and with the salt dropping it would not help either (~3,500 regions x 1,000 sequences is a
    second of HMACs): the salt, kept apart from the data, is the protection (README: Configuration).
    """
    if not national_id:
        return ""
    value = national_id.strip()
    if len(value) < 15:  # not a resident ID number: no part of it is kept
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 6)


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[0]}***@{domain}"


# Defence in depth for free text (log lines, exception messages built elsewhere): anything that looks like
# a resident ID number or a mainland mobile number is masked even if a caller forgot to.
_ID_RE = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_text(text: str) -> str:
    text = _ID_RE.sub(lambda m: mask_national_id(m.group(0)), text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class PiiMaskingFilter(logging.Filter):
    """A logging filter that masks ID and phone numbers in the final message text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


_installed = False


def install_record_masking() -> None:
    """Mask ID and phone numbers in every log record at creation, whichever logger or handler (Prefect's
    API log handler included) it reaches. Idempotent; a safety net, not a licence to log personal data."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        PiiMaskingFilter().filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
