"""A re-asked form: filled in with the previous answer, yet as strict as the first time it was shown."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from flows import runtime
from flows.forms import ExamResultForm, HighResResultForm
from flows.runtime import escape_markdown, prefilled
from models.cases import ExamPanel

PANEL = {
    "blood_count_ok": True,
    "abo_rh": "O+",
    "hbv_negative": True,
    "hcv_negative": True,
    "hiv_negative": True,
    "syphilis_negative": True,
    "cmv": "negative",
    "liver_ok": True,
    "renal_ok": True,
    "chest_xray_ok": True,
    "ecg_ok": True,
    "ultrasound_ok": False,
}
PREVIOUS = {
    "coordinator": "张老师",
    "result": "passed",
    "result_date": date(2026, 11, 30),
    "panel": ExamPanel(**PANEL),
    "deferred_until": date(2026, 11, 30),
    "reason": "",
}


def test_a_prefilled_form_keeps_the_required_fields_of_the_original() -> None:
    again = prefilled(ExamResultForm, "", PREVIOUS, note="未接受 …")
    schema = again.model_json_schema()
    assert schema["required"] == ExamResultForm.model_json_schema()["required"]
    assert schema["properties"]["coordinator"]["default"] == "张老师"  # still shown filled in
    assert schema["properties"]["result_date"]["default"] == "2026-11-30"
    assert schema["properties"]["panel"]["default"]["abo_rh"] == "O+"


def test_an_emptied_coordinator_is_refused_not_replaced_by_the_previous_one() -> None:
    again = prefilled(ExamResultForm, "", PREVIOUS)
    answer = {**PREVIOUS, "panel": {**PANEL, "ultrasound_ok": True}}
    del answer["coordinator"]  # what the UI sends for a cleared text box
    with pytest.raises(ValidationError, match="coordinator"):
        again.model_validate(answer)
    with pytest.raises(ValidationError, match="coordinator"):
        again.model_validate({**answer, "coordinator": ""})
    assert again.model_validate({**answer, "coordinator": "李老师"}).coordinator == "李老师"


def test_the_reason_and_case_line_sit_on_the_coordinator_field_every_resume_dialog_shows() -> None:
    note = r"**未接受：A (2): A\*02:0x … Not accepted**" + "\n\nHigh-resolution result · case c-1"
    again = prefilled(HighResResultForm, "markdown", {"coordinator": "张老师"}, note=note)
    description = again.model_json_schema()["properties"]["coordinator"]["description"]
    assert description.startswith(note)
    assert description.endswith(HighResResultForm.model_fields["coordinator"].description or "")


def test_markdown_in_a_reason_is_escaped() -> None:
    assert escape_markdown("A*02:0x and B*07:xx") == r"A\*02:0x and B\*07:xx"
    assert escape_markdown("a_b [c] `d` <e>") == r"a\_b \[c\] \`d\` \<e\>"


def test_a_replayed_rejection_is_recognised_by_the_form_suspended_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a suspend the flow replays its earlier answers; their rejections were logged when new.
    The next form of a replayed rejection exists, under suspend_flow_run's "suspended-" prefix."""
    stored = {"suspended-high-res-result-2-schema"}
    run_id = "6f1c0f5e-0000-4000-8000-000000000001"
    monkeypatch.setattr(runtime, "current_run_id", lambda: run_id)
    monkeypatch.setattr(runtime, "_deployed", lambda: True)
    monkeypatch.setattr(
        runtime, "read_flow_run_input", lambda key, flow_run_id: {} if key in stored else None
    )
    assert runtime._asked_before("high-res-result-2")  # answer 1 replayed: logged before
    assert not runtime._asked_before("high-res-result-3")  # answer 2 is new: log it


def test_a_bilingual_reason_is_shown_once_not_once_per_language() -> None:
    from flows.runtime import not_accepted

    reason = "填报了严重不良事件，但未选择 S(P)EAR 类别（a serious event needs its S(P)EAR category）"
    text = not_accepted(reason)
    assert text.count(reason) == 1
    assert text.startswith("未接受 Not accepted: ") and text.endswith("Please correct and submit again.")
