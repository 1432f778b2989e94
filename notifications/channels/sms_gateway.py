"""SMS through a generic HTTP gateway: `POST url` with `{"to": "+86…", "text": "…"}` and an
`Idempotency-Key` header. 2xx accepted (a JSON body may carry `id`); 429, 5xx and timeouts are
transient; any other 4xx is permanent."""

from __future__ import annotations

from typing import ClassVar

from notifications.channels.http import HttpClient, message_id, new_client, post_classified
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["SmsGatewayChannel"]


class SmsGatewayChannel(Channel):
    name: ClassVar[str] = "sms"

    def __init__(self, url: str, *, token: str = "", timeout: float = 10.0, client: HttpClient | None = None):
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or new_client(timeout)

    async def send(self, message: OutgoingMessage) -> Receipt:
        headers = {**self._headers, "Idempotency-Key": message.idempotency_key}
        response = await post_classified(
            self._client,
            self._url,
            "SMS gateway",
            json={"to": message.to, "text": message.text},
            headers=headers,
        )
        return Receipt(provider_message_id=message_id(response))

    async def aclose(self) -> None:
        await self._client.aclose()
