"""Messages to members and coordinators, and the pipeline's events: the transactional outbox."""

from models.outreach.events import (
    EVENT_LEASE,
    EVENT_RETRY,
    PipelineEvent,
    claim_events,
    count_pending_events,
    defer_events,
    mark_emitted,
    relay_events,
)
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
    "EVENT_LEASE",
    "EVENT_RETRY",
    "KIND_EVENT",
    "KIND_MESSAGE",
    "STATUSES",
    "Outbox",
    "PipelineEvent",
    "claim_events",
    "count_pending_events",
    "defer_events",
    "enqueue",
    "enqueue_alert",
    "enqueue_event",
    "mark_emitted",
    "relay_events",
]
