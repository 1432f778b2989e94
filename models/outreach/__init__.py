"""Messages to members: the outbox (notifications and reminders will land here)."""

from models.outreach.outbox import Outbox, enqueue

__all__ = [
    "Outbox",
    "enqueue",
]
