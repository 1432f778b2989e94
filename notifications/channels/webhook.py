"""The partner webhook (hospitals, partner systems): a signed JSON POST.

Body: `{"key", "idempotency_key", "text", "params", "sent_at"}` (UTF-8 JSON). Headers:
`X-Donorflow-Timestamp` (unix seconds), `X-Donorflow-Signature: sha256=<hex>` where hex is
HMAC-SHA256(secret, f"{timestamp}.{body}") over the exact body bytes, and `Idempotency-Key`: a receiver
de-duplicates on it (a re-send carries the same key, a new timestamp and signature).

Receivers check a request with `verify_signature` (the scheme Stripe and GitHub webhooks use: the
timestamp is signed too, and a request older than the tolerance is refused, so a captured request cannot
be replayed later). HTTP statuses are classified as for the SMS gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from notifications.channels.http import HttpClient, message_id, new_client, post_classified
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookChannel",
    "verify_signature",
    "webhook_signature",
]

SIGNATURE_HEADER = "X-Donorflow-Signature"
TIMESTAMP_HEADER = "X-Donorflow-Timestamp"
DEFAULT_TOLERANCE_SECONDS = 300


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def webhook_signature(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The signature header's value: `sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`."""
    signed = f"{timestamp}.".encode() + _as_bytes(body)
    return "sha256=" + hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: int | str,
    body: str | bytes,
    header: str,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: True when `header` (X-Donorflow-Signature) signs `timestamp` (X-Donorflow-Timestamp)
    and `body` (the raw request bytes, before any JSON parsing) with `secret`, and the timestamp is within
    `tolerance` seconds of now. Constant-time comparison."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(webhook_signature(secret, sent, body), header.strip())


class WebhookChannel(Channel):
    name: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str,
        timeout: float = 10.0,
        client: HttpClient | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._url = url
        self._secret = secret.encode("utf-8")
        self._client = client or new_client(timeout)
        self._clock = clock

    async def send(self, message: OutgoingMessage) -> Receipt:
        now = self._clock()
        timestamp = int(now)
        body = json.dumps(
            {
                "key": message.template_key,
                "idempotency_key": message.idempotency_key,
                "text": message.text,
                "params": dict(message.params),
                "sent_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: webhook_signature(self._secret, timestamp, body),
            "Idempotency-Key": message.idempotency_key,
        }
        response = await post_classified(
            self._client, self._url, "partner webhook", content=body, headers=headers
        )
        return Receipt(provider_message_id=message_id(response))

    async def aclose(self) -> None:
        await self._client.aclose()
