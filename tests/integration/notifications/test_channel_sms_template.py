"""Mainland template-style SMS (Aliyun SendSms fields) against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import pytest
from pytest_httpserver import HTTPServer

from models.core.errors import BalanceExhaustedError, PermanentDeliveryError, TransientDeliveryError
from notifications.channels import SmsTemplateChannel, check_template_params
from notifications.message import OutgoingMessage, Receipt

PHONE = "13812345678"
CODES = {"exam_booking": "SMS_270001", "donation_thanks": "SMS_270002"}
PARAMS = {"code": "ZZ000123", "hospital": "河南省人民医院", "exam_date": "2026-12-01"}


def _message(key: str = "exam_booking", params: Mapping[str, str] = PARAMS) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key="exam:case-7",
        channel="sms",
        to=PHONE,
        template_key=key,
        language="zh-CN",
        text="【郑州红十字会】志愿者 ZZ000123：体检 2026-12-01 河南省人民医院，前一晚零点起禁食，带身份证。",
        params=params,
    )


def _send(url: str, message: OutgoingMessage, *, param_max_chars: int = 35) -> Receipt:
    async def scenario() -> Receipt:
        channel = SmsTemplateChannel(
            url, sign_name="郑州红十字会", template_codes=CODES, param_max_chars=param_max_chars
        )
        try:
            return await channel.send(message)
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def test_sent_with_signature_template_code_and_string_params_returns_the_biz_id(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(
        "/sms", method="POST", headers={"Idempotency-Key": "exam:case-7"}
    ).respond_with_json(
        {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"}
    )

    receipt = _send(httpserver.url_for("/sms"), _message())

    assert receipt == Receipt(provider_message_id="900619746936498440^0")
    request = httpserver.log[0][0]
    body = request.get_json()
    assert body["PhoneNumbers"] == PHONE
    assert body["SignName"] == "郑州红十字会"
    assert body["TemplateCode"] == "SMS_270001"
    assert body["OutId"] == "exam:case-7"
    assert json.loads(body["TemplateParam"]) == PARAMS  # a JSON string of strings, as providers take it


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", TransientDeliveryError),
        ("Throttling.User", TransientDeliveryError),
        ("isp.SYSTEM_ERROR", TransientDeliveryError),
        ("isv.MOBILE_NUMBER_ILLEGAL", PermanentDeliveryError),
        ("isv.TEMPLATE_MISSING_PARAMETERS", PermanentDeliveryError),
        ("isv.INVALID_PARAMETERS", PermanentDeliveryError),
        ("isv.SMS_TEMPLATE_ILLEGAL", PermanentDeliveryError),
        ("isv.SMS_SIGNATURE_ILLEGAL", PermanentDeliveryError),
        ("isv.A_CODE_NOBODY_KNOWS", PermanentDeliveryError),
        ("isv.AMOUNT_NOT_ENOUGH", BalanceExhaustedError),
    ],
)
def test_provider_codes_map_to_transient_permanent_or_balance_exhausted(
    httpserver: HTTPServer, code: str, error: type[Exception]
) -> None:
    httpserver.expect_request("/sms").respond_with_json({"Code": code, "Message": "…"})

    with pytest.raises(error) as caught:
        _send(httpserver.url_for("/sms"), _message())
    assert type(caught.value) is error  # a BalanceExhaustedError is transient too: exactly this class
    assert code in str(caught.value)
    assert PHONE not in str(caught.value)


def test_a_throttling_code_on_an_http_400_is_still_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/sms").respond_with_json({"Code": "Throttling.User"}, status=400)

    with pytest.raises(TransientDeliveryError):
        _send(httpserver.url_for("/sms"), _message())


@pytest.mark.parametrize("status", [429, 502, 503])
def test_http_overload_is_transient_whatever_the_body(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/sms").respond_with_data("<html>busy</html>", status=status)

    with pytest.raises(TransientDeliveryError) as caught:
        _send(httpserver.url_for("/sms"), _message())
    assert not isinstance(caught.value, BalanceExhaustedError)


def test_a_link_in_a_variable_is_refused_before_any_request_naming_the_variable_not_the_value(
    httpserver: HTTPServer,
) -> None:
    params = {**PARAMS, "hospital": "see https://hospital.example.cn/map"}

    with pytest.raises(PermanentDeliveryError, match="'hospital'") as caught:
        _send(httpserver.url_for("/sms"), _message(params=params))
    assert "example" not in str(caught.value)
    assert httpserver.log == []


def test_a_variable_over_the_length_limit_is_refused_before_any_request(httpserver: HTTPServer) -> None:
    params = {**PARAMS, "hospital": "河南省人民医院郑东院区"}  # 11 characters; the others have 8 and 10

    with pytest.raises(PermanentDeliveryError, match="'hospital' has 11 characters, more than 10") as caught:
        _send(httpserver.url_for("/sms"), _message(params=params), param_max_chars=10)
    assert "河南" not in str(caught.value)
    assert httpserver.log == []


def test_a_message_key_without_a_provider_template_is_permanent(httpserver: HTTPServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="no provider template for campaign_0614"):
        _send(httpserver.url_for("/sms"), _message(key="campaign_0614"))
    assert httpserver.log == []


@pytest.mark.parametrize(
    "value",
    [
        "http://x.cn/a",
        "HTTPS://X.CN",
        "www.hongshizi",
        "hongshizi.org.cn",
        "a.example.com/path",
        "192.168.1.10",
    ],
)
def test_url_looking_values_are_refused(value: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="looks like a link"):
        check_template_params({"v": value})


@pytest.mark.parametrize(
    "value",
    ["ZZ000123", "2026-12-01", "河南省人民医院", "10/10 allele", "month_6", "whole_blood", "3", "No.5"],
)
def test_ordinary_values_pass(value: str) -> None:
    check_template_params({"v": value})


def test_a_value_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(PermanentDeliveryError, match="'attempt' is not a string"):
        check_template_params({"attempt": 2})


def test_the_default_limit_is_35_characters_a_variable() -> None:
    check_template_params({"hospital": "院" * 35})
    with pytest.raises(PermanentDeliveryError, match="36 characters, more than 35"):
        check_template_params({"hospital": "院" * 36})
