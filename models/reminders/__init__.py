"""Scheduled reminders (issue 11, DESIGN.md §6): what falls due on a day, computed from the data, queued
through the outbox once, and the coordinators' tasks; recording a follow-up and the S(P)EAR report.
No Prefect here (flows/reminders.py runs it daily, flows/follow_up.py asks for a follow-up's answers)."""

from models.reminders.availability import record_availability
from models.reminders.case_file import CaseFile, MessageLine, case_file
from models.reminders.config import ReminderConfig
from models.reminders.deceased import DECEASED_CASE_TASK, DeathRecorded, record_death
from models.reminders.engine import KINDS, Plan, RunResult, plan, run
from models.reminders.followup_answers import (
    FOLLOW_UP_KINDS,
    FollowUpAnswer,
    FollowUpKind,
    SpearCategory,
    check_follow_up_answer,
    follow_up_kind,
    follow_up_label,
)
from models.reminders.followup_record import (
    SPEAR_TASK,
    follow_up_record_key,
    follow_up_to_answer,
    record_follow_up,
    recorded_follow_up,
)
from models.reminders.listing import FollowUpItem, list_follow_ups
from models.reminders.spear_report import SpearReport, SpearRow, spear_report
from models.reminders.tables import CoordinatorTask, Reminder

__all__ = [
    "CaseFile",
    "MessageLine",
    "case_file",
    "DECEASED_CASE_TASK",
    "FOLLOW_UP_KINDS",
    "KINDS",
    "SPEAR_TASK",
    "CoordinatorTask",
    "DeathRecorded",
    "FollowUpAnswer",
    "FollowUpItem",
    "FollowUpKind",
    "Plan",
    "Reminder",
    "ReminderConfig",
    "RunResult",
    "SpearCategory",
    "SpearReport",
    "SpearRow",
    "check_follow_up_answer",
    "follow_up_kind",
    "follow_up_label",
    "follow_up_record_key",
    "follow_up_to_answer",
    "list_follow_ups",
    "plan",
    "record_availability",
    "record_death",
    "record_follow_up",
    "recorded_follow_up",
    "run",
    "spear_report",
]
