"""Scheduled reminders (issue 11, DESIGN.md §6): what falls due on a day, computed from the data, queued
through the outbox once, and the coordinators' tasks. No Prefect here (flows/reminders.py runs it daily)."""

from models.reminders.availability import record_availability
from models.reminders.config import ReminderConfig
from models.reminders.engine import KINDS, Plan, RunResult, plan, run
from models.reminders.follow_up_rules import follow_up_kind
from models.reminders.listing import FollowUpItem, list_follow_ups
from models.reminders.tables import CoordinatorTask, Reminder

__all__ = [
    "KINDS",
    "CoordinatorTask",
    "FollowUpItem",
    "Plan",
    "Reminder",
    "ReminderConfig",
    "RunResult",
    "follow_up_kind",
    "list_follow_ups",
    "plan",
    "record_availability",
    "run",
]
