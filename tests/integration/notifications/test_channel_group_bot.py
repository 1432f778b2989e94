"""The coordinators' group bot, WeCom and DingTalk styles, against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import pytest
from pytest_httpserver import HTTPServer

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels import BotStyle, GroupBotChannel
from notifications.message import OutgoingMessage, Receipt

TEXT = "### 表单待填写\n病例 **7**（志愿者 ZZ000123）：体检表已等待 2 天。\n[打开流程](http://127.0.0.1:4200/runs/flow-run/1)"


def _message(subject: str = "") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key="alert:form:case-7:group-bot",
        channel="webhook",
        to="group-bot",
        template_key="alert_form_waiting",
        language="zh-CN",
        text=TEXT,
        subject=subject,
        urgent=True,
    )


def _send(
    url: str, style: BotStyle = "wecom", secret: str = "", message: OutgoingMessage | None = None
) -> Receipt:
    async def scenario() -> Receipt:
        channel = GroupBotChannel(url, style=style, secret=secret, clock=lambda: 1_796_000_000.123)
        try:
            return await channel.send(message or _message())
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def test_wecom_gets_markdown_content(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/cgi-bin/webhook/send",
        method="POST",
        query_string={"key": "bot-key"},
        json={"msgtype": "markdown", "markdown": {"content": TEXT}},
    ).respond_with_json({"errcode": 0, "errmsg": "ok"})

    assert _send(httpserver.url_for("/cgi-bin/webhook/send?key=bot-key")) == Receipt()
    httpserver.check_assertions()


def test_dingtalk_gets_title_and_text_and_a_valid_sign(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 0, "errmsg": "ok"})

    _send(httpserver.url_for("/robot/send?access_token=ding-token"), style="dingtalk", secret="SEC-ding")

    request = httpserver.log[0][0]
    assert request.get_json() == {"msgtype": "markdown", "markdown": {"title": "表单待填写", "text": TEXT}}
    assert request.args["access_token"] == "ding-token"  # the bot URL's own query is kept
    assert request.args["timestamp"] == "1796000000123"  # milliseconds
    digest = hmac.new(b"SEC-ding", b"1796000000123\nSEC-ding", hashlib.sha256).digest()
    assert request.args["sign"] == base64.b64encode(digest).decode()


def test_dingtalk_without_a_secret_sends_no_sign_and_uses_the_subject_as_title(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/robot/send").respond_with_json({"errcode": 0})

    _send(httpserver.url_for("/robot/send"), style="dingtalk", message=_message(subject="待填表单：病例 7"))

    request = httpserver.log[0][0]
    assert "sign" not in request.args
    assert request.get_json()["markdown"]["title"] == "待填表单：病例 7"


@pytest.mark.parametrize(
    ("style", "errcode", "error"),
    [
        ("wecom", 45009, TransientDeliveryError),
        ("dingtalk", 130101, TransientDeliveryError),
        ("wecom", 93000, PermanentDeliveryError),  # invalid webhook key
        ("dingtalk", 310000, PermanentDeliveryError),  # sign, keyword or IP check failed
    ],
)
def test_rate_errcodes_are_transient_others_permanent(
    httpserver: HTTPServer, style: BotStyle, errcode: int, error: type[Exception]
) -> None:
    httpserver.expect_request("/bot").respond_with_json({"errcode": errcode, "errmsg": "…"})

    with pytest.raises(error, match=str(errcode)):
        _send(httpserver.url_for("/bot"), style=style)


@pytest.mark.parametrize(("status", "error"), [(502, TransientDeliveryError), (404, PermanentDeliveryError)])
def test_http_statuses_are_classified_like_the_sms_gateway(
    httpserver: HTTPServer, status: int, error: type[Exception]
) -> None:
    httpserver.expect_request("/bot").respond_with_data("no", status=status)

    with pytest.raises(error, match=str(status)):
        _send(httpserver.url_for("/bot"))
