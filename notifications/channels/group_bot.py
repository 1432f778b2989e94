"""The coordinators' group bot: a WeCom (企业微信 群机器人) or DingTalk (钉钉 自定义机器人) webhook, markdown.

WeCom: `{"msgtype": "markdown", "markdown": {"content": text}}` (content at most 4,096 bytes).
DingTalk: `{"msgtype": "markdown", "markdown": {"title": …, "text": …}}`; with 加签 (a secret) the URL also
gets `timestamp` (milliseconds) and `sign` = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), per
DingTalk's 自定义机器人安全设置 page. Both answer `{"errcode": 0, "errmsg": "ok"}`; 45009 (WeCom: API
frequency limit) and 130101 (DingTalk: sending too fast, 20 a minute) are transient, any other errcode
permanent; HTTP statuses as for the SMS gateway. Neither takes an idempotency key: a re-send after a lost
answer may post twice, which a group chat tolerates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import ClassVar, Literal

import httpx

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels.http import HttpClient, new_client, post_classified
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["BotStyle", "GroupBotChannel", "dingtalk_sign"]

BotStyle = Literal["wecom", "dingtalk"]
_RATE_ERRCODES = frozenset({45009, 130101})
_WECOM_MAX_BYTES = 4096
_TITLE_MAX_CHARS = 64


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")); httpx URL-encodes it as a query value."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class GroupBotChannel(Channel):
    name: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        *,
        style: BotStyle = "wecom",
        secret: str = "",
        timeout: float = 10.0,
        client: HttpClient | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._url = url
        self._style = style
        self._secret = secret
        self._client = client or new_client(timeout)
        self._clock = clock

    async def send(self, message: OutgoingMessage) -> Receipt:
        params: dict[str, str] = {}
        if self._style == "dingtalk":
            body: dict[str, object] = {
                "msgtype": "markdown",
                "markdown": {"title": _title(message), "text": message.text},
            }
            if self._secret:
                timestamp = int(self._clock() * 1000)
                params = {"timestamp": str(timestamp), "sign": dingtalk_sign(self._secret, timestamp)}
        else:
            body = {"msgtype": "markdown", "markdown": {"content": _cut_utf8(message.text, _WECOM_MAX_BYTES)}}
        # The URL carries the bot's key or access token: never logged, never in an error. The sign
        # is merged into its query (httpx's `params=` would replace the access_token).
        url = httpx.URL(self._url).copy_merge_params(params) if params else self._url
        response = await post_classified(self._client, url, "group bot", json=body)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise TransientDeliveryError("group bot answered something other than a JSON object")
        errcode = answer.get("errcode", 0)
        if errcode == 0:
            return Receipt(provider_message_id=None)
        if errcode in _RATE_ERRCODES:
            raise TransientDeliveryError(f"group bot rate limited: errcode {errcode}")
        raise PermanentDeliveryError(f"group bot refused the message: errcode {errcode}")

    async def aclose(self) -> None:
        await self._client.aclose()


def _title(message: OutgoingMessage) -> str:
    """DingTalk shows the title in the chat list: the subject, else the first line without `#`."""
    first_line = message.text.strip().splitlines()[0] if message.text.strip() else message.template_key
    return (message.subject or first_line.lstrip("# ").strip() or message.template_key)[:_TITLE_MAX_CHARS]


def _cut_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")
