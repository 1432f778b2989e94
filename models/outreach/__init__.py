"""Messages to members and coordinators, and the pipeline's events: the transactional outbox."""

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

__all__ = [
    "COORDINATORS",
    "KIND_EVENT",
    "KIND_MESSAGE",
    "STATUSES",
    "Outbox",
    "enqueue",
    "enqueue_alert",
    "enqueue_event",
]
