"""WeChat official account template messages against a real HTTP server on loopback standing in for
api.weixin.qq.com: the access token fetched once and cached, refreshed once on an expired-token errcode."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels import WechatChannel, WechatTemplate
from notifications.message import OutgoingMessage, Receipt

OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"
TEMPLATES = {
    "sample_appointment": WechatTemplate(
        template_id="tpl-sample", fields={"thing1": "text", "character_string2": "code"}
    )
}
SEND = "/cgi-bin/message/template/send"
TOKEN = "/cgi-bin/token"


def _message(n: int = 0, key: str = "sample_appointment") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=f"sample:case-{n}",
        channel="wechat",
        to=OPENID,
        template_key=key,
        language="zh-CN",
        text="志愿者 ZZ000123：协调员将致电约定高分辨复查采样。",
        params={"code": "ZZ000123"},
    )


def _channel(httpserver: HTTPServer, clock: Callable[[], float] = time.monotonic) -> WechatChannel:
    return WechatChannel(
        appid="wx-app", secret="wx-secret", templates=TEMPLATES, api_base=httpserver.url_for(""), clock=clock
    )


def _send_all(httpserver: HTTPServer, messages: list[OutgoingMessage]) -> list[Receipt]:
    """Send at once through one channel (one token cache), closed afterwards."""

    async def scenario() -> list[Receipt]:
        channel = _channel(httpserver)
        try:
            return await asyncio.gather(*(channel.send(message) for message in messages))
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def _send_one(httpserver: HTTPServer, message: OutgoingMessage | None = None) -> Receipt:
    [receipt] = _send_all(httpserver, [message or _message()])
    return receipt


def _tokens(httpserver: HTTPServer, *values: str, expires_in: int = 7200) -> list[Request]:
    """Serve the given tokens in turn; returns the list the token requests are recorded in."""
    seen: list[Request] = []
    issued = iter(values)

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(f'{{"access_token": "{next(issued)}", "expires_in": {expires_in}}}')

    httpserver.expect_request(TOKEN, method="GET").respond_with_handler(handler)
    return seen


def _sends(httpserver: HTTPServer, answer: Callable[[Request], str]) -> list[Request]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(answer(request), content_type="application/json")

    httpserver.expect_request(SEND, method="POST").respond_with_handler(handler)
    return seen


def test_sends_the_template_with_mapped_fields_and_returns_the_msgid(httpserver: HTTPServer) -> None:
    tokens = _tokens(httpserver, "T1")
    sends = _sends(httpserver, lambda _: '{"errcode": 0, "errmsg": "ok", "msgid": 200228332}')

    assert _send_one(httpserver) == Receipt(provider_message_id="200228332")
    assert tokens[0].args.to_dict() == {
        "grant_type": "client_credential",
        "appid": "wx-app",
        "secret": "wx-secret",
    }
    assert sends[0].args["access_token"] == "T1"
    assert sends[0].get_json() == {
        "touser": OPENID,
        "template_id": "tpl-sample",
        "data": {"thing1": {"value": _message().text}, "character_string2": {"value": "ZZ000123"}},
    }


def test_twenty_concurrent_sends_fetch_the_token_once(httpserver: HTTPServer) -> None:
    tokens = _tokens(httpserver, "T1", "T2")
    counter = itertools.count(1)
    sends = _sends(httpserver, lambda _: f'{{"errcode": 0, "msgid": {next(counter)}}}')

    receipts = _send_all(httpserver, [_message(n) for n in range(20)])

    assert len(tokens) == 1
    assert len({receipt.provider_message_id for receipt in receipts}) == 20
    assert {request.args["access_token"] for request in sends} == {"T1"}


def test_an_expired_token_is_refreshed_once_and_the_send_retried(httpserver: HTTPServer) -> None:
    tokens = _tokens(httpserver, "T1", "T2")
    sends = _sends(
        httpserver,
        lambda request: (
            '{"errcode": 42001, "errmsg": "access_token expired"}'
            if request.args["access_token"] == "T1"
            else '{"errcode": 0, "msgid": 7}'
        ),
    )

    assert _send_one(httpserver) == Receipt(provider_message_id="7")
    assert len(tokens) == 2
    assert [request.args["access_token"] for request in sends] == ["T1", "T2"]


def test_concurrent_sends_refused_with_the_same_stale_token_refresh_it_once(httpserver: HTTPServer) -> None:
    tokens = _tokens(httpserver, "T1", "T2", "T3")
    _sends(
        httpserver,
        lambda request: (
            '{"errcode": 40001}' if request.args["access_token"] == "T1" else '{"errcode": 0, "msgid": 1}'
        ),
    )

    assert len(_send_all(httpserver, [_message(n) for n in range(10)])) == 10
    assert len(tokens) == 2


def test_a_token_refused_again_after_the_refresh_is_transient_and_not_refreshed_twice(
    httpserver: HTTPServer,
) -> None:
    tokens = _tokens(httpserver, "T1", "T2", "T3")
    sends = _sends(httpserver, lambda _: '{"errcode": 40014, "errmsg": "invalid access_token"}')

    with pytest.raises(TransientDeliveryError, match="40014"):
        _send_one(httpserver)
    assert (len(tokens), len(sends)) == (2, 2)


def test_the_token_is_reused_until_expires_in_minus_the_margin(httpserver: HTTPServer) -> None:
    tokens = _tokens(httpserver, "T1", "T2")
    sends = _sends(httpserver, lambda _: '{"errcode": 0, "msgid": 1}')
    now = [1000.0]

    async def scenario() -> None:
        channel = _channel(httpserver, clock=lambda: now[0])
        try:
            await channel.send(_message(1))
            now[0] += 7200 - 300 - 1  # expires_in 7200, margin 300: one second before the refresh
            await channel.send(_message(2))
            now[0] += 2
            await channel.send(_message(3))
        finally:
            await channel.aclose()

    asyncio.run(scenario())
    assert len(tokens) == 2
    assert [request.args["access_token"] for request in sends] == ["T1", "T1", "T2"]


@pytest.mark.parametrize(
    ("errcode", "error"),
    [
        (-1, TransientDeliveryError),
        (45009, TransientDeliveryError),
        (43004, PermanentDeliveryError),
        (40003, PermanentDeliveryError),
        (40037, PermanentDeliveryError),
        (47003, PermanentDeliveryError),
    ],
)
def test_errcodes_map_to_transient_or_permanent(
    httpserver: HTTPServer, errcode: int, error: type[Exception]
) -> None:
    _tokens(httpserver, "T1")
    _sends(httpserver, lambda _: f'{{"errcode": {errcode}, "errmsg": "…"}}')

    with pytest.raises(error, match=str(errcode)) as caught:
        _send_one(httpserver)
    assert OPENID not in str(caught.value)


def test_a_refused_token_request_is_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN).respond_with_json(
        {"errcode": 40164, "errmsg": "invalid ip, not in whitelist"}
    )

    with pytest.raises(TransientDeliveryError, match="40164") as caught:
        _send_one(httpserver)
    assert "wx-secret" not in str(caught.value)


def test_a_key_without_a_wechat_template_is_permanent_before_any_request(httpserver: HTTPServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="no WeChat template for campaign_0614"):
        _send_one(httpserver, _message(key="campaign_0614"))
    assert httpserver.log == []
