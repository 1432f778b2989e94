"""What a channel is given and gives back, and the channel interface itself (STYLE.md: like an httpx
transport, one small abstract method, real implementations and an in-memory one)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from models.core import mask_text

__all__ = ["Channel", "OutgoingMessage", "Receipt"]


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
