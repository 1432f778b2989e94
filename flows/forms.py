"""The coordinator forms as Prefect run inputs: the fields and titles come from models/cases/forms.py."""

from __future__ import annotations

from prefect.input import RunInput

from models.cases import forms as stage_forms
from models.reminders import FollowUpAnswer

__all__ = [
    "ContactForm",
    "DonationBookedForm",
    "DonationCompletedForm",
    "ExamBookedForm",
    "ExamResultForm",
    "FollowUpForm",
    "HighResResultForm",
    "SampleBookedForm",
    "SampleSentForm",
]


class ContactForm(RunInput, stage_forms.ContactAnswer):
    pass


class SampleBookedForm(RunInput, stage_forms.SampleBooked):
    pass


class SampleSentForm(RunInput, stage_forms.SampleSent):
    pass


class HighResResultForm(RunInput, stage_forms.HighResResult):
    pass


class ExamBookedForm(RunInput, stage_forms.ExamBooked):
    pass


class ExamResultForm(RunInput, stage_forms.ExamResult):
    pass


class DonationBookedForm(RunInput, stage_forms.DonationBooked):
    pass


class DonationCompletedForm(RunInput, stage_forms.DonationCompleted):
    pass


class FollowUpForm(RunInput, FollowUpAnswer):
    pass
