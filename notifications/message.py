"""What a channel is given and gives back, and the channel interface itself (STYLE.md: like an httpx
transport, one small abstract method, real implementations and an in-memory one)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from models.core import mask_text

__all__ = ["AlertTarget", "Channel", "ChannelSet", "OutgoingMessage", "Receipt"]


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one recipient on one channel."""

    idempotency_key: str  # passed to every gateway that accepts one: a re-send is delivered once
    channel: str
    to: str  # +86 phone, e-mail address, WeChat openid, or the webhook/bot name (never logged unmasked)
    template_key: str
    language: str
    text: str  # SMS text, e-mail text part, the message body elsewhere
    subject: str = ""
    html: str = ""
    # The context as strings: a provider's registered template (mainland SMS, WeChat) takes these, not
    # our text; the local render is then the preview and audit copy of what the donor saw.
    params: Mapping[str, str] = field(default_factory=dict)
    urgent: bool = False

    def __repr__(self) -> str:
        return (
            f"OutgoingMessage(key={self.idempotency_key!r}, channel={self.channel!r}, "
            f"to={mask_text(self.to)!r}, template={self.template_key!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str | None = None


class Channel(ABC):
    """Sends one message. Raises TransientDeliveryError (retry later) or PermanentDeliveryError
    (dead-letter it) from models.core.errors, the provider's error chained; never logs the recipient."""

    name: ClassVar[str]

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> Receipt: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook: most channels hold nothing
        """Release connections (an httpx client, an SMTP connection)."""


@dataclass(frozen=True)
class AlertTarget:
    """One place coordinator alerts go: a coordinator's e-mail address, or a group bot."""

    channel: str  # "email" | "webhook"
    sender: Channel
    to: str  # the e-mail address, or the bot's name ("group-bot")
    name: str  # a stable, non-personal label for idempotency keys and logs: "email-1", "group-bot"


@dataclass
class ChannelSet:
    """What the composition root (donorflow/channels.py: build_channels) gives the dispatcher."""

    members: dict[str, Channel] = field(default_factory=dict)  # "sms" | "email" | "wechat" → channel
    alerts: list[AlertTarget] = field(default_factory=list)

    async def aclose(self) -> None:
        seen: set[int] = set()
        for channel in [*self.members.values(), *(target.sender for target in self.alerts)]:
            if id(channel) not in seen:
                seen.add(id(channel))
                await channel.aclose()
