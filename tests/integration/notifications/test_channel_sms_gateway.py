"""The generic SMS gateway against a real HTTP server on loopback (pytest-httpserver)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels import SmsGatewayChannel
from notifications.message import OutgoingMessage, Receipt

PHONE = "+8613812345678"


def _message(key: str = "remob:case-7:1") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel="sms",
        to=PHONE,
        template_key="remobilisation_contact",
        language="zh-CN",
        text="【郑州红十字会】志愿者 ZZ000123：请致电 0371-12345678。",
    )


def _send(url: str, message: OutgoingMessage, *, timeout: float = 5.0) -> Receipt:
    async def scenario() -> Receipt:
        channel = SmsGatewayChannel(url, token="gateway-token", timeout=timeout)
        try:
            return await channel.send(message)
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def test_accepted_message_returns_the_gateway_id_and_sends_the_idempotency_key(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(
        "/sms",
        method="POST",
        json={"to": PHONE, "text": _message().text},
        headers={"Idempotency-Key": "remob:case-7:1", "Authorization": "Bearer gateway-token"},
    ).respond_with_json({"id": "gw-42"}, status=202)

    assert _send(httpserver.url_for("/sms"), _message()) == Receipt(provider_message_id="gw-42")
    httpserver.check_assertions()


def test_accepted_without_a_json_body_has_no_provider_id(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/sms").respond_with_data("queued", status=200)

    assert _send(httpserver.url_for("/sms"), _message()) == Receipt(provider_message_id=None)


@pytest.mark.parametrize("status", [503, 429, 500])
def test_overload_and_server_errors_are_transient(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/sms").respond_with_data("busy", status=status)

    with pytest.raises(TransientDeliveryError, match=str(status)):
        _send(httpserver.url_for("/sms"), _message())


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_refusal_is_permanent(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/sms").respond_with_data("bad number", status=status)

    with pytest.raises(PermanentDeliveryError, match=str(status)):
        _send(httpserver.url_for("/sms"), _message())


def test_a_gateway_slower_than_the_timeout_is_transient(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def slow(_: Request) -> Response:
        release.wait(5)  # answers only after the client has given up
        return Response("late", status=200)

    httpserver.expect_request("/sms").respond_with_handler(slow)

    with pytest.raises(TransientDeliveryError, match="timed out") as caught:
        _send(httpserver.url_for("/sms"), _message(), timeout=0.05)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    release.set()
    deadline = time.monotonic() + 5  # let the late answer finish: the server is shared with later tests
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.01)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_gateway_is_transient_and_the_error_names_no_recipient() -> None:
    with pytest.raises(TransientDeliveryError, match="unreachable") as caught:
        _send(f"http://127.0.0.1:{_closed_port()}/sms", _message())
    assert "13812345678" not in str(caught.value)
