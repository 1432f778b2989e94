"""SMS through a generic HTTP gateway: `POST url` with `{"to": "+86…", "text": "…"}` and an
`Idempotency-Key` header. 2xx accepted (a JSON body may carry `id`); 429, 5xx and timeouts are
transient; any other 4xx is permanent."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["SmsGatewayChannel", "classify_http_status", "message_id", "post_classified"]


def classify_http_status(status: int, what: str) -> None:
    """Raise the delivery error an HTTP status means; return for 2xx."""
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500 or status == 408:
        raise TransientDeliveryError(f"{what} answered HTTP {status}")
    raise PermanentDeliveryError(f"{what} refused the message: HTTP {status}")


class SmsGatewayChannel(Channel):
    name: ClassVar[str] = "sms"

    def __init__(
        self, url: str, *, token: str = "", timeout: float = 10.0, client: httpx.AsyncClient | None = None
    ):
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.AsyncClient(timeout=timeout)

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


async def post_classified(client: httpx.AsyncClient, url: str, what: str, **request: Any) -> httpx.Response:
    """POST, with timeouts and transport errors transient and the HTTP status classified (2xx returns)."""
    try:
        response = await client.post(url, **request)
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(f"{what} timed out") from exc
    except httpx.TransportError as exc:
        raise TransientDeliveryError(f"{what} unreachable: {type(exc).__name__}") from exc
    classify_http_status(response.status_code, what)
    return response


def message_id(response: httpx.Response) -> str | None:
    """The `id` a JSON answer may carry (a generic gateway's or a partner's message id)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])[:128]
    return None
