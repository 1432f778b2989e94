"""The signed partner webhook against a real HTTP server on loopback, and the receivers' verify_signature."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels import WebhookChannel, verify_signature
from notifications.message import OutgoingMessage, Receipt

SECRET = "partner-shared-secret"
NOW = 1_796_000_000.0  # 2026-11-30T00:53:20Z, fixed so the body is known


def _message() -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key="high-res:case-7",
        channel="webhook",
        to="partner-webhook",
        template_key="high_res_result",
        language="zh-CN",
        text="病例 7：志愿者 ZZ000123 高分辨结果 10/10 allele。",
        params={"case_id": "7", "member_code": "ZZ000123", "result": "10/10 allele"},
    )


def _send(url: str) -> Receipt:
    async def scenario() -> Receipt:
        channel = WebhookChannel(url, secret=SECRET, clock=lambda: NOW)
        try:
            return await channel.send(_message())
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def _delivered(httpserver: HTTPServer) -> Request:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"id": "partner-1"})
    assert _send(httpserver.url_for("/hook")) == Receipt(provider_message_id="partner-1")
    return httpserver.log[0][0]


def test_the_body_carries_key_idempotency_key_text_params_and_sent_at(httpserver: HTTPServer) -> None:
    request = _delivered(httpserver)

    assert json.loads(request.get_data()) == {
        "key": "high_res_result",
        "idempotency_key": "high-res:case-7",
        "text": _message().text,
        "params": {"case_id": "7", "member_code": "ZZ000123", "result": "10/10 allele"},
        "sent_at": "2026-11-30T00:53:20+00:00",
    }
    assert request.headers["Idempotency-Key"] == "high-res:case-7"
    assert request.headers["X-Donorflow-Timestamp"] == str(int(NOW))


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body(httpserver: HTTPServer) -> None:
    request = _delivered(httpserver)
    body = request.get_data()
    expected = hmac.new(SECRET.encode(), f"{int(NOW)}.".encode() + body, hashlib.sha256).hexdigest()

    assert request.headers["X-Donorflow-Signature"] == f"sha256={expected}"


def test_the_signature_verifies_and_a_tampered_body_or_wrong_secret_fails(httpserver: HTTPServer) -> None:
    request = _delivered(httpserver)
    body = request.get_data()
    timestamp = request.headers["X-Donorflow-Timestamp"]
    header = request.headers["X-Donorflow-Signature"]

    assert verify_signature(SECRET, timestamp, body, header, 300, now=NOW + 10)
    assert not verify_signature(SECRET, timestamp, body.replace(b"10/10", b"9/10"), header, 300, now=NOW)
    assert not verify_signature("another-secret", timestamp, body, header, 300, now=NOW)
    assert not verify_signature(SECRET, str(int(NOW) + 1), body, header, 300, now=NOW)  # timestamp is signed


def test_a_request_older_than_the_tolerance_fails_verification(httpserver: HTTPServer) -> None:
    request = _delivered(httpserver)
    body = request.get_data()
    timestamp = request.headers["X-Donorflow-Timestamp"]
    header = request.headers["X-Donorflow-Signature"]

    assert verify_signature(SECRET, timestamp, body, header, 300, now=NOW + 300)
    assert not verify_signature(SECRET, timestamp, body, header, 300, now=NOW + 301)
    assert not verify_signature(SECRET, "not-a-number", body, header, 300, now=NOW)


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, TransientDeliveryError), (429, TransientDeliveryError), (400, PermanentDeliveryError)],
)
def test_http_statuses_are_classified_like_the_sms_gateway(
    httpserver: HTTPServer, status: int, error: type[Exception]
) -> None:
    httpserver.expect_request("/hook").respond_with_data("no", status=status)

    with pytest.raises(error, match=str(status)):
        _send(httpserver.url_for("/hook"))
