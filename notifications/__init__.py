"""Notifications: templates rendered in zh-CN and en, channels that send them (DESIGN.md §5)."""

from notifications.message import Channel, OutgoingMessage, Receipt
from notifications.render import DEFAULT_LANGUAGE, LANGUAGES, Rendered, Renderer

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Channel", "OutgoingMessage", "Receipt", "Rendered", "Renderer"]
