"""Notifications: templates rendered in zh-CN and en, channels that send them (DESIGN.md §5)."""

from notifications.catalogue import (
    CATALOGUE,
    COORDINATOR_CHANNELS,
    DONATION_TYPES,
    FOLLOW_UP_LABELS,
    MEMBER_CHANNELS,
    MessageSpec,
    sample_context,
)
from notifications.message import AlertTarget, Channel, ChannelSet, OutgoingMessage, Receipt
from notifications.render import (
    DEFAULT_LANGUAGE,
    DEMO_BRANCHES,
    LANGUAGES,
    Branch,
    Rendered,
    Renderer,
    resolve_language,
)
from notifications.sms_length import SmsLength, sms_length, sms_parts

__all__ = [
    "CATALOGUE",
    "COORDINATOR_CHANNELS",
    "DEFAULT_LANGUAGE",
    "DEMO_BRANCHES",
    "DONATION_TYPES",
    "FOLLOW_UP_LABELS",
    "LANGUAGES",
    "MEMBER_CHANNELS",
    "AlertTarget",
    "Branch",
    "Channel",
    "ChannelSet",
    "MessageSpec",
    "OutgoingMessage",
    "Receipt",
    "Rendered",
    "Renderer",
    "SmsLength",
    "resolve_language",
    "sample_context",
    "sms_length",
    "sms_parts",
]
