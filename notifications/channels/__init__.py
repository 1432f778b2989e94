"""The channels: each a small class with one `send` method (notifications.message.Channel)."""

from notifications.channels.email_smtp import SmtpChannel, SmtpConfig, message_id_for
from notifications.channels.file import FileChannel, mask_recipient, safe_file_stem
from notifications.channels.group_bot import BotStyle, GroupBotChannel, dingtalk_sign
from notifications.channels.http import PooledClient, classify_http_status
from notifications.channels.memory import MemoryChannel
from notifications.channels.sms_gateway import SmsGatewayChannel
from notifications.channels.sms_template import (
    SmsTemplateChannel,
    check_template_params,
    classify_provider_code,
)
from notifications.channels.webhook import WebhookChannel, verify_signature, webhook_signature
from notifications.channels.wechat import WechatChannel, WechatTemplate

__all__ = [
    "BotStyle",
    "FileChannel",
    "GroupBotChannel",
    "MemoryChannel",
    "PooledClient",
    "SmsGatewayChannel",
    "SmsTemplateChannel",
    "SmtpChannel",
    "SmtpConfig",
    "WebhookChannel",
    "WechatChannel",
    "WechatTemplate",
    "check_template_params",
    "classify_http_status",
    "classify_provider_code",
    "dingtalk_sign",
    "mask_recipient",
    "message_id_for",
    "safe_file_stem",
    "verify_signature",
    "webhook_signature",
]
