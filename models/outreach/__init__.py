"""Messages to members and coordinators, and the pipeline's events: the transactional outbox."""

from models.outreach.cancel import WITHDRAWN, cancel_pending_for, cancel_pending_for_members
from models.outreach.outbox import (
    COORDINATORS,
    KIND_EVENT,
    KIND_MESSAGE,
    STATUSES,
    Outbox,
    enqueue,
    enqueue_alert,
    enqueue_event,
)
from models.outreach.withdrawal import confirmation_channel, withdraw_member

__all__ = [
    "COORDINATORS",
    "KIND_EVENT",
    "KIND_MESSAGE",
    "STATUSES",
    "WITHDRAWN",
    "Outbox",
    "cancel_pending_for",
    "cancel_pending_for_members",
    "confirmation_channel",
    "enqueue",
    "enqueue_alert",
    "enqueue_event",
    "withdraw_member",
]
