"""WeChat official account template messages (公众号模板消息, developers.weixin.qq.com "模板消息接口").

The access token (`GET {api_base}/cgi-bin/token`) is cached until `expires_in` minus a margin and fetched
by one send while the others wait on a lock: WeChat caps the token calls per day, and each new token
starts the old one's five-minute end of life. A send answered "token invalid or expired" drops that token,
has a new one fetched once (by whichever send gets the lock first) and is retried once.

Each message key maps to a template id and its fields: `{wechat_field: param_name}`, where the param name
`text` means the rendered text (the `.wechat.j2` render). errcodes from the 全局返回码说明 page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels.http import HttpClient, classify_http_status, new_client, send_request
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["DEFAULT_API_BASE", "WechatChannel", "WechatTemplate"]

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TEXT_PARAM = "text"

_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
_TRANSIENT_ERRCODES = frozenset({-1, 45009})  # system busy, API daily/frequency limit reached
# Everything else is permanent: 43004 the member does not follow the account, 40003 invalid openid,
# 40037 invalid template id, 47003 a field the template refuses, …


@dataclass(frozen=True)
class WechatTemplate:
    template_id: str
    fields: Mapping[str, str] = field(default_factory=dict)  # wechat field → param name, or "text"


@dataclass
class _Token:
    value: str
    expires_at: float  # on the channel's monotonic clock


class WechatChannel(Channel):
    name: ClassVar[str] = "wechat"

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        templates: Mapping[str, WechatTemplate],
        api_base: str = DEFAULT_API_BASE,
        token_margin_seconds: float = 300.0,
        timeout: float = 10.0,
        client: HttpClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._appid = appid
        self._secret = secret
        self._templates = dict(templates)
        self._api_base = api_base.rstrip("/")
        self._margin = token_margin_seconds
        self._client = client or new_client(timeout)
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    async def send(self, message: OutgoingMessage) -> Receipt:
        payload = self._payload(message)
        token = await self._access_token()
        answer = await self._post_template(token, payload)
        if answer.get("errcode") in _TOKEN_ERRCODES:
            self._drop(token)
            answer = await self._post_template(await self._access_token(), payload)
        return _receipt(answer)

    def _payload(self, message: OutgoingMessage) -> dict[str, object]:
        template = self._templates.get(message.template_key)
        if template is None:
            raise PermanentDeliveryError(f"no WeChat template for {message.template_key}")
        data: dict[str, dict[str, str]] = {}
        for wechat_field, param in template.fields.items():
            if param == TEXT_PARAM:
                value = message.text
            elif param in message.params:
                value = message.params[param]
            else:
                raise PermanentDeliveryError(
                    f"WeChat template for {message.template_key}: no value for {param!r} ({wechat_field})"
                )
            data[wechat_field] = {"value": value}
        return {"touser": message.to, "template_id": template.template_id, "data": data}

    async def _access_token(self) -> str:
        token = self._token
        if token is not None and self._clock() < token.expires_at:
            return token.value
        async with self._lock:
            token = self._token  # another send may have fetched it while this one waited
            if token is None or self._clock() >= token.expires_at:
                token = self._token = await self._fetch_token()
            return token.value

    def _drop(self, token: str) -> None:
        """Forget `token` unless another send has already replaced it: many sends refused with the same
        stale token cause one fetch, not one each."""
        if self._token is not None and self._token.value == token:
            self._token = None

    async def _fetch_token(self) -> _Token:
        params = {"grant_type": "client_credential", "appid": self._appid, "secret": self._secret}
        answer = await self._call("GET", "/cgi-bin/token", params=params, what="WeChat token endpoint")
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            # 40013 invalid appid, 40125 invalid secret, 40164 server IP not on the whitelist, -1 busy:
            # about the account, not the message: it waits until the operator fixes the setting.
            raise TransientDeliveryError(f"WeChat refused the access token: errcode {answer.get('errcode')}")
        expires_in = answer.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
        return _Token(value, self._clock() + max(lifetime - self._margin, 0.0))

    async def _post_template(self, token: str, payload: dict[str, object]) -> dict[str, object]:
        return await self._call(
            "POST",
            "/cgi-bin/message/template/send",
            params={"access_token": token},
            json=payload,
            what="WeChat",
        )

    async def _call(
        self, method: str, path: str, *, params: dict[str, str], what: str, json: object = None
    ) -> dict[str, object]:
        # Never logged or put in an error: the URL carries the secret or the access token.
        response = await send_request(
            self._client, method, self._api_base + path, what, params=params, json=json
        )
        classify_http_status(response.status_code, what)
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientDeliveryError(f"{what} answered something other than JSON") from exc
        if not isinstance(body, dict):
            raise TransientDeliveryError(f"{what} answered something other than a JSON object")
        return body

    async def aclose(self) -> None:
        await self._client.aclose()


def _receipt(answer: Mapping[str, object]) -> Receipt:
    errcode = answer.get("errcode", 0)
    if errcode == 0:
        msgid = answer.get("msgid")
        return Receipt(provider_message_id=str(msgid) if msgid is not None else None)
    if errcode in _TRANSIENT_ERRCODES or errcode in _TOKEN_ERRCODES:  # a token refused twice: later
        raise TransientDeliveryError(f"WeChat busy or rate limited: errcode {errcode}")
    raise PermanentDeliveryError(f"WeChat refused the message: errcode {errcode}")
