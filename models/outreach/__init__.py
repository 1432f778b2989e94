"""Messages to members and coordinators, and the pipeline's events: the transactional outbox."""

from models.outreach.cancel import WITHDRAWN, cancel_pending_for, cancel_pending_for_members
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
from models.outreach.withdrawal import confirmation_channel, withdraw_member

__all__ = [
    "COORDINATORS",
    "EVENT_LEASE",
    "EVENT_RETRY",
    "KIND_EVENT",
    "KIND_MESSAGE",
    "STATUSES",
    "WITHDRAWN",
    "Outbox",
    "PipelineEvent",
    "cancel_pending_for",
    "cancel_pending_for_members",
    "claim_events",
    "confirmation_channel",
    "count_pending_events",
    "defer_events",
    "enqueue",
    "enqueue_alert",
    "enqueue_event",
    "mark_emitted",
    "relay_events",
    "withdraw_member",
]
