"""SMS the way every mainland provider takes it (Aliyun SendSms, Tencent Cloud SMS): a registered
signature (签名), a registered template per message key, and the template's variables as a JSON of strings.
The provider fills its own approved template; our local render stays the preview and the audit copy.

Request (Aliyun SendSms field names, to a configurable URL, e.g. a branch's relay in front of the
provider): `POST url` with `{"PhoneNumbers", "SignName", "TemplateCode", "TemplateParam", "OutId"}` and an
`Idempotency-Key` header; OutId is the provider's own trace field, so the idempotency key shows up in the
provider's delivery reports. Answer: `{"Code": "OK", "BizId": "…"}`.

Codes follow the Aliyun SMS error codes page (短信服务 API 错误码, help.aliyun.com "SMS error codes").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import ClassVar

import httpx

from models.core.errors import BalanceExhaustedError, PermanentDeliveryError, TransientDeliveryError
from notifications.channels.http import HttpClient, classify_http_status, new_client, send_request
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["DEFAULT_PARAM_MAX_CHARS", "SmsTemplateChannel", "classify_provider_code", "check_template_params"]

# Aliyun's variable rules (短信模板变量规范) cap most variable kinds at 35 characters or fewer.
DEFAULT_PARAM_MAX_CHARS = 35

# Throttling and provider faults: the same message may go through later.
_TRANSIENT_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",  # 触发业务流控: per-number flow control (per minute/hour/day)
        "isv.DAY_LIMIT_CONTROL",  # the account's daily volume reached
        "Throttling.User",  # OpenAPI flow control on our AccessKey
        "Throttling.Api",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "isp.UNKNOWN",
    }
)
# No balance (isv.AMOUNT_NOT_ENOUGH) or the service stopped for arrears (isv.OUT_OF_SERVICE 业务停机):
# nothing goes out until the operator tops up, so the message waits and the operator is alerted.
_BALANCE_CODES = frozenset({"isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE"})
# Everything else is about this message (isv.MOBILE_NUMBER_ILLEGAL, isv.TEMPLATE_MISSING_PARAMETERS,
# isv.INVALID_PARAMETERS, isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL, isv.PARAM_LENGTH_LIMIT,
# isv.PARAM_NOT_SUPPORT_URL, …) or unknown: sending it again gives the same answer.

# Providers refuse variables that carry a link (Aliyun isv.PARAM_NOT_SUPPORT_URL: "域名和ip请固化到模板");
# checked here so the answer is ours and names the variable.
_URL_LIKE = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://|www\.|(?<![\w.-])[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*"
    r"\.[a-z]{2,63}(?![\w-])|(?<!\d)\d{1,3}(?:\.\d{1,3}){3}(?!\d))"
)


def classify_provider_code(code: str) -> None:
    """Raise the delivery error a provider Code means; return for "OK"."""
    if code == "OK":
        return
    if code in _BALANCE_CODES:
        raise BalanceExhaustedError(f"SMS provider balance exhausted: {code}")
    if code in _TRANSIENT_CODES:
        raise TransientDeliveryError(f"SMS provider busy or throttling: {code}")
    raise PermanentDeliveryError(f"SMS provider refused the message: {code}")


def check_template_params(params: Mapping[str, object], *, max_chars: int = DEFAULT_PARAM_MAX_CHARS) -> None:
    """Refuse what the provider would refuse, naming the variable and never its value (it may be personal)."""
    for name, value in params.items():
        if not isinstance(value, str):
            raise PermanentDeliveryError(f"SMS template variable {name!r} is not a string")
        if _URL_LIKE.search(value):
            raise PermanentDeliveryError(
                f"SMS template variable {name!r} looks like a link: providers refuse it"
            )
        if len(value) > max_chars:
            raise PermanentDeliveryError(
                f"SMS template variable {name!r} has {len(value)} characters, more than {max_chars}"
            )


class SmsTemplateChannel(Channel):
    name: ClassVar[str] = "sms"

    def __init__(
        self,
        url: str,
        *,
        sign_name: str,
        template_codes: Mapping[str, str],
        token: str = "",
        param_max_chars: int = DEFAULT_PARAM_MAX_CHARS,
        timeout: float = 10.0,
        client: HttpClient | None = None,
    ):
        self._url = url
        self._sign_name = sign_name
        self._template_codes = dict(template_codes)
        self._param_max_chars = param_max_chars
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or new_client(timeout)

    async def send(self, message: OutgoingMessage) -> Receipt:
        code = self._template_codes.get(message.template_key)
        if not code:
            raise PermanentDeliveryError(f"no provider template for {message.template_key}")
        check_template_params(message.params, max_chars=self._param_max_chars)
        body = {
            "PhoneNumbers": message.to,
            "SignName": self._sign_name,
            "TemplateCode": code,
            "TemplateParam": json.dumps(dict(message.params), ensure_ascii=False, separators=(",", ":")),
            "OutId": message.idempotency_key,
        }
        headers = {**self._headers, "Idempotency-Key": message.idempotency_key}
        response = await send_request(
            self._client, "POST", self._url, "SMS provider", json=body, headers=headers
        )
        # A proxy's 429/5xx says nothing about the message, whatever its body.
        if response.status_code in (408, 429) or response.status_code >= 500:
            classify_http_status(response.status_code, "SMS provider")
        answer = _json_object(response)
        provider_code = answer.get("Code")
        if not isinstance(provider_code, str):
            classify_http_status(response.status_code, "SMS provider")  # a 4xx without a Code
            raise PermanentDeliveryError(f"SMS provider answered HTTP {response.status_code} without a Code")
        classify_provider_code(provider_code)
        biz_id = answer.get("BizId")
        return Receipt(provider_message_id=str(biz_id)[:128] if biz_id is not None else None)

    async def aclose(self) -> None:
        await self._client.aclose()


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
