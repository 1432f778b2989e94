"""An in-memory channel: unit tests and `--dry-run` (nothing leaves the process)."""

from __future__ import annotations

from typing import ClassVar

from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["MemoryChannel"]


class MemoryChannel(Channel):
    name: ClassVar[str] = "memory"

    def __init__(self, name: str = "memory") -> None:
        self.channel_name = name
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> Receipt:
        self.sent.append(message)
        return Receipt(provider_message_id=f"memory-{len(self.sent)}")
