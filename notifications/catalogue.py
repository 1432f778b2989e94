"""The message catalogue of issue 10: every template key, who it goes to, on which channels, with which
context fields (agreed between the enqueueing services, the dispatcher and the templates; the keys and
field names are a contract, do not rename them). `sample_context` gives realistic values with no real
person in them, for tests and `donorflow notify preview`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.core.errors import ValidationError

__all__ = [
    "CATALOGUE",
    "COORDINATOR_CHANNELS",
    "DONATION_TYPES",
    "FOLLOW_UP_LABELS",
    "MEMBER_CHANNELS",
    "MessageSpec",
    "sample_context",
]

Audience = Literal["member", "coordinators"]

MEMBER_CHANNELS = ("sms", "email", "wechat")
COORDINATOR_CHANNELS = ("email", "webhook")
# The follow-up contacts after a stem-cell donation (models.cases.FOLLOW_UP_SCHEDULE writes them with a
# hyphen, "day-2"; the templates accept both spellings).
FOLLOW_UP_LABELS = ("day_2", "week_1", "month_1", "month_6", *(f"year_{n}" for n in range(1, 11)))
DONATION_TYPES = ("whole_blood", "platelets", "plasma")


@dataclass(frozen=True)
class MessageSpec:
    key: str
    audience: Audience
    channels: tuple[str, ...]
    fields: tuple[
        str, ...
    ]  # the context every enqueue supplies (besides the globals branch, hotline, signature)
    # The default; the enqueueing service may raise it (a re-mobilisation for an urgent search is urgent).
    urgent: bool = False


def _member(key: str, *fields: str) -> MessageSpec:
    return MessageSpec(key=key, audience="member", channels=MEMBER_CHANNELS, fields=fields)


def _alert(key: str, *fields: str) -> MessageSpec:
    return MessageSpec(
        key=key, audience="coordinators", channels=COORDINATOR_CHANNELS, fields=fields, urgent=True
    )


CATALOGUE: dict[str, MessageSpec] = {
    spec.key: spec
    for spec in (
        _member("registration_welcome", "code"),
        _member("remobilisation_contact", "code", "attempt"),
        _member("sample_appointment", "code"),
        _member("sample_booking", "code", "site", "appointment_date"),
        _member("exam_booking", "code", "hospital", "exam_date"),
        _member("gcsf_schedule", "code", "hospital", "gcsf_start", "collection_date"),
        _member("donation_thanks", "code"),
        _member("follow_up", "code", "label", "due_on"),
        _member("availability_check", "code"),
        _member("blood_reinvitation", "donation_type", "eligible_from"),
        _member("campaign_0614", "year"),
        _member("spring_festival_visit", "year"),
        _member("withdrawal_confirmation", "code"),
        _member("retirement_thanks", "code"),
        _alert("high_res_result", "case_id", "member_code", "patient_code", "result", "link"),
        _alert("alert_form_waiting", "case_id", "member_code", "stage", "form", "since", "link"),
        _alert("alert_case_overdue", "case_id", "member_code", "stage", "due_at", "link"),
        _alert("alert_dead_letter", "message_id", "template_key", "channel", "reason"),
        _alert("alert_balance", "channel", "provider"),
        _alert("alert_spear", "case_id", "member_code", "label", "category", "contacted_on", "link"),
    )
}

# Codes in the registry's own format with the demo prefix, a made-up patient code, a real hospital (not
# personal data) and dates in the future: nothing here belongs to a person.
_CASE_ID = "3f2b8c1e-5d4a-4e6f-9a7b-0c1d2e3f4a5b"
_LINK = "http://127.0.0.1:4200/runs/flow-run/8d0e6a52-1b3c-4f7d-a9e2-5c6b7d8e9f01"
_SAMPLES: dict[str, object] = {
    "code": "ZZ26-000123",
    "attempt": 1,
    "hospital": "郑州大学第一附属医院",
    "site": "河南省红十字血液中心",
    "appointment_date": "2026-11-20",
    "exam_date": "2026-12-01",
    "gcsf_start": "2027-01-11",
    "collection_date": "2027-01-15",
    "label": "month_1",
    "due_on": "2027-02-15",
    "donation_type": "whole_blood",
    "eligible_from": "2026-12-20",
    "year": 2027,
    "case_id": _CASE_ID,
    "member_code": "ZZ26-000123",
    "patient_code": "P-2026-0042",
    "result": "10/10 allele",
    "stage": "exam",
    "form": "体检结果 exam result",
    "since": "2026-12-01T02:30:00+00:00",
    "due_at": "2026-12-08T02:30:00+00:00",
    "link": _LINK,
    "message_id": 4711,
    "template_key": "exam_booking",
    "channel": "sms",
    "reason": "too many attempts: gateway answered 503",
    "provider": "generic SMS gateway",
    "category": "gcsf_related",
    "contacted_on": "2027-02-15",
}


def sample_context(key: str) -> dict[str, object]:
    """A context with every field of `key`, realistic and belonging to nobody."""
    spec = CATALOGUE.get(key)
    if spec is None:
        raise ValidationError(f"未知的消息 unknown message key {key!r}; 可选 valid: {', '.join(CATALOGUE)}")
    return {field: _SAMPLES[field] for field in spec.fields}
