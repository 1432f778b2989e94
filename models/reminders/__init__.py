"""Scheduled reminders (issue 11, DESIGN.md §6): what falls due on a day, computed from the data, queued
through the outbox once, and the coordinators' tasks. No Prefect here (flows/reminders.py runs it daily)."""

from models.reminders.tables import CoordinatorTask, Reminder

__all__ = ["CoordinatorTask", "Reminder"]
