"""The catalogue agreed between the helpers of issue 10: keys, audiences, channels, fields, samples."""

from __future__ import annotations

import re

import pytest

from models.cases import FOLLOW_UP_SCHEDULE
from models.core import ValidationError
from notifications.catalogue import (
    CATALOGUE,
    COORDINATOR_CHANNELS,
    FOLLOW_UP_LABELS,
    MEMBER_CHANNELS,
    sample_context,
)

MEMBER_KEYS = {
    "registration_welcome": ("code",),
    "remobilisation_contact": ("code", "attempt"),
    "sample_appointment": ("code",),
    "sample_booking": ("code", "site", "appointment_date"),
    "exam_booking": ("code", "hospital", "exam_date"),
    "gcsf_schedule": ("code", "hospital", "gcsf_start", "collection_date"),
    "donation_thanks": ("code",),
    "follow_up": ("code", "label", "due_on"),
    "availability_check": ("code",),
    "blood_reinvitation": ("donation_type", "eligible_from"),
    "campaign_0614": ("year",),
    "spring_festival_visit": ("year",),
    "withdrawal_confirmation": ("code",),
    "retirement_thanks": ("code",),
}
ALERT_KEYS = {
    "high_res_result": ("case_id", "member_code", "patient_code", "result", "link"),
    "alert_form_waiting": ("case_id", "member_code", "stage", "form", "since", "link"),
    "alert_case_overdue": ("case_id", "member_code", "stage", "due_at", "link"),
    "alert_dead_letter": ("message_id", "template_key", "channel", "reason"),
    "alert_balance": ("channel", "provider"),
    "alert_spear": ("case_id", "member_code", "label", "category", "contacted_on", "link"),
}


def test_the_catalogue_holds_exactly_the_agreed_keys_fields_and_channels() -> None:
    assert {k: s.fields for k, s in CATALOGUE.items()} == {**MEMBER_KEYS, **ALERT_KEYS}
    for key, spec in CATALOGUE.items():
        assert spec.key == key
        if key in MEMBER_KEYS:
            assert (spec.audience, spec.channels, spec.urgent) == ("member", MEMBER_CHANNELS, False)
        else:
            assert (spec.audience, spec.channels, spec.urgent) == ("coordinators", COORDINATOR_CHANNELS, True)


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_a_sample_context_has_every_field_and_json_safe_values(key: str) -> None:
    context = sample_context(key)
    assert tuple(context) == CATALOGUE[key].fields
    assert all(type(value) in (str, int) for value in context.values())


def test_sample_contexts_hold_nothing_that_looks_like_a_person() -> None:
    values = " ".join(str(v) for key in CATALOGUE for v in sample_context(key).values())
    assert not re.search(r"1[3-9]\d{9}", values), "a mobile number"
    assert not re.search(r"\d{17}[\dXx]", values), "an ID number"
    assert "@" not in values, "an e-mail address"


def test_an_unknown_key_has_no_sample_and_the_error_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="exam_booking"):
        sample_context("exam_bookin")


def test_every_follow_up_the_case_schedule_creates_has_a_catalogue_label() -> None:
    # models.cases spells them "day-2"; the catalogue "day_2"; the templates accept both.
    assert {label.replace("-", "_") for label, _, _ in FOLLOW_UP_SCHEDULE} == set(FOLLOW_UP_LABELS)
