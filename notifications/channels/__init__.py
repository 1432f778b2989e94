"""The channels: each a small class with one `send` method (notifications.message.Channel)."""

from notifications.channels.memory import MemoryChannel
from notifications.channels.sms_gateway import SmsGatewayChannel, classify_http_status

__all__ = ["MemoryChannel", "SmsGatewayChannel", "classify_http_status"]
