"""Which channels this installation sends on (composition root).

A minimal stand-in on the dispatcher's branch, replaced at merge by the channels branch's full builder
(same module, same signature): the generic SMS gateway when DONORFLOW_SMS_URL is set, else an in-memory
channel that keeps what would have been sent.
"""

from __future__ import annotations

import logging

from donorflow.settings import Settings
from notifications import ChannelSet
from notifications.channels import MemoryChannel, SmsGatewayChannel

__all__ = ["build_channels"]

log = logging.getLogger(__name__)


def build_channels(settings: Settings) -> ChannelSet:
    if settings.sms_url:
        token = settings.sms_token.get_secret_value() if settings.sms_token else ""
        return ChannelSet(members={"sms": SmsGatewayChannel(settings.sms_url, token=token)})
    log.info("no channel configured (DONORFLOW_SMS_URL): messages are kept in memory only")
    return ChannelSet(members={"sms": MemoryChannel("sms")})
