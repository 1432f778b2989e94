"""HTTP for the channels (shared/STYLE.md, the httpx transport style): a client made of several small
connection pools, and the one place where a request's timeout, transport error or HTTP status becomes a
delivery error (transient or permanent).

Why several pools: httpcore's pool looks at every one of its connections on each request and each
response (`_assign_requests_to_connections`, `has_expired` per connection), so its cost per message grows
with the connections open at once. Measured with bench/dispatch.py (20 sends at a time, loopback): one
pool of 20 connections 3.4 ms CPU a message (294 messages/s), five pools taken in turn 1.5 ms (634/s).
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from models.core.errors import PermanentDeliveryError, TransientDeliveryError

__all__ = [
    "HttpClient",
    "PooledClient",
    "classify_http_status",
    "message_id",
    "new_client",
    "post_classified",
    "send_request",
]

# Connections a pool keeps: small enough that the pool's own bookkeeping stays cheap.
_PER_POOL = 4
_POOLS = 5


class PooledClient:
    """`request`/`post`/`aclose` like an `httpx.AsyncClient`, spread over `pools` clients in turn."""

    def __init__(self, *, timeout: float, pools: int = _POOLS, per_pool: int = _PER_POOL) -> None:
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        self._clients = [httpx.AsyncClient(timeout=timeout, limits=limits) for _ in range(max(1, pools))]
        self._next = itertools.cycle(self._clients)

    async def request(self, method: str, url: httpx.URL | str, **request: Any) -> httpx.Response:
        return await next(self._next).request(method, url, **request)

    async def post(self, url: httpx.URL | str, **request: Any) -> httpx.Response:
        return await self.request("POST", url, **request)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


HttpClient = httpx.AsyncClient | PooledClient


def new_client(timeout: float) -> PooledClient:
    """The client a channel makes when it is given none."""
    return PooledClient(timeout=timeout)


async def send_request(
    client: HttpClient, method: str, url: httpx.URL | str, what: str, **request: Any
) -> httpx.Response:
    """One request; a timeout or a transport error is transient. The URL is never put into the error:
    a bot's key, a token or a secret may be in it."""
    try:
        return await client.request(method, url, **request)
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(f"{what} timed out") from exc
    except httpx.TransportError as exc:
        raise TransientDeliveryError(f"{what} unreachable: {type(exc).__name__}") from exc


async def post_classified(
    client: HttpClient, url: httpx.URL | str, what: str, **request: Any
) -> httpx.Response:
    """POST, with timeouts and transport errors transient and the HTTP status classified (2xx returns)."""
    response = await send_request(client, "POST", url, what, **request)
    classify_http_status(response.status_code, what)
    return response


def classify_http_status(status: int, what: str) -> None:
    """Raise the delivery error an HTTP status means; return for 2xx."""
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500 or status == 408:
        raise TransientDeliveryError(f"{what} answered HTTP {status}")
    raise PermanentDeliveryError(f"{what} refused the message: HTTP {status}")


def message_id(response: httpx.Response) -> str | None:
    """The `id` a JSON answer may carry (a generic gateway's or a partner's message id)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])[:128]
    return None
