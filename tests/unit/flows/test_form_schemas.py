"""Every coordinator form's JSON schema, as the Prefect UI renders it, matches its snapshot.

A change to a form in models/cases/forms.py (or to Prefect's RunInput) that changes what the UI shows
fails here first (PREFECT.md). When the change is meant, rewrite the snapshots and review their diff:

    DONORFLOW_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/flows/test_form_schemas.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from flows import forms
from models.cases import forms as stage_forms
from models.reminders import FollowUpAnswer

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots" / "forms"
FORMS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (forms.ContactForm, stage_forms.ContactAnswer),
    (forms.SampleBookedForm, stage_forms.SampleBooked),
    (forms.SampleSentForm, stage_forms.SampleSent),
    (forms.HighResResultForm, stage_forms.HighResResult),
    (forms.ExamBookedForm, stage_forms.ExamBooked),
    (forms.ExamResultForm, stage_forms.ExamResult),
    (forms.DonationBookedForm, stage_forms.DonationBooked),
    (forms.DonationCompletedForm, stage_forms.DonationCompleted),
    (forms.FollowUpForm, FollowUpAnswer),  # models/reminders: the follow-up flow's form
]


def _text(schema: dict[str, object]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def test_every_stage_form_has_a_run_input_and_a_snapshot() -> None:
    stage_answers = {
        cls
        for name in stage_forms.__all__
        if isinstance(cls := getattr(stage_forms, name), type)
        and issubclass(cls, stage_forms.StageAnswer)
        and cls is not stage_forms.StageAnswer
    }
    assert {answer for _, answer in FORMS} == stage_answers | {FollowUpAnswer}
    assert {path.stem for path in SNAPSHOTS.glob("*.json")} == {form.__name__ for form, _ in FORMS}


@pytest.mark.parametrize(("form", "answer"), FORMS, ids=[form.__name__ for form, _ in FORMS])
def test_form_schema_matches_its_snapshot(form: type[BaseModel], answer: type[BaseModel]) -> None:
    schema = form.model_json_schema()
    # The run input adds nothing but Prefect's own keys: every field the UI shows is the stage form's.
    assert schema["properties"] == answer.model_json_schema()["properties"]
    snapshot = SNAPSHOTS / f"{form.__name__}.json"
    if os.environ.get("DONORFLOW_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(_text(schema), encoding="utf-8")
    assert snapshot.exists(), f"no snapshot for {form.__name__}: run with DONORFLOW_UPDATE_SNAPSHOTS=1"
    assert _text(schema) == snapshot.read_text(encoding="utf-8")


@pytest.mark.parametrize("form", [form for form, _ in FORMS], ids=[form.__name__ for form, _ in FORMS])
def test_form_renders_as_the_ui_expects(form: type[BaseModel]) -> None:
    """Every field titled, the coordinator first and required, no anyOf."""
    schema = form.model_json_schema()
    assert "anyOf" not in json.dumps(
        schema
    )  # Optional fields render as confusing "X / None" tabs (PREFECT.md)
    assert "coordinator" in schema["required"]
    assert schema["properties"]["coordinator"]["position"] == 0
    assert all("title" in field for field in schema["properties"].values())
