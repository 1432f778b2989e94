"""Notifications: templates rendered in zh-CN and en, channels that send them (DESIGN.md §5)."""

from notifications.message import AlertTarget, Channel, ChannelSet, OutgoingMessage, Receipt
from notifications.render import DEFAULT_LANGUAGE, LANGUAGES, Rendered, Renderer

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "AlertTarget",
    "Channel",
    "ChannelSet",
    "OutgoingMessage",
    "Receipt",
    "Rendered",
    "Renderer",
]
