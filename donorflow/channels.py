"""The channels of this installation, built from the settings (the composition root's part for issue 10).

Each configured channel is constructed once and shared: the SMTP channel sends to members and to every
coordinator's alert address. With nothing configured, the local file channel stands in for every channel
(what `make up` uses), so a demo shows the real messages under var/outbox/. A half-made configuration is
refused at start with the setting named, not discovered on the first message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from donorflow.settings import Settings
from models.core import ConfigurationError
from notifications.channels import (
    FileChannel,
    GroupBotChannel,
    SmsGatewayChannel,
    SmsTemplateChannel,
    SmtpChannel,
    SmtpConfig,
    WebhookChannel,
    WechatChannel,
    WechatTemplate,
)
from notifications.message import AlertTarget, Channel, ChannelSet

log = logging.getLogger(__name__)

__all__ = ["MEMBER_CHANNELS", "build_channels"]

MEMBER_CHANNELS = ("sms", "email", "wechat")


def build_channels(settings: Settings) -> ChannelSet:
    """Members' channels and alert targets as configured; the file channel for all when none is.

    Raises ConfigurationError (zh-CN then English, the setting named) for a half-made configuration.
    Build one per dispatcher run and `aclose()` it afterwards: the HTTP clients belong to that event loop.
    """
    members: dict[str, Channel] = {}
    sms = _sms(settings)
    if sms is not None:
        members["sms"] = sms
    smtp = _smtp(settings)
    if smtp is not None:
        members["email"] = smtp
    wechat = _wechat(settings)
    if wechat is not None:
        members["wechat"] = wechat
    alerts = _alerts(settings, smtp)
    if members or alerts:
        return ChannelSet(members=members, alerts=alerts)
    outbox = settings.resolved_outbox_dir
    log.info("no channel configured (DONORFLOW_SMS_URL, _SMTP_HOST, …): messages are written to %s", outbox)
    file = FileChannel(outbox)
    return ChannelSet(
        members=dict.fromkeys(MEMBER_CHANNELS, file),
        alerts=[AlertTarget(channel="email", sender=file, to="coordinators", name="outbox")],
    )


def _misconfigured(setting: str, zh: str, en: str) -> ConfigurationError:
    return ConfigurationError(f"{zh}：请设置 DONORFLOW_{setting} — {en}: set DONORFLOW_{setting}")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _sms(settings: Settings) -> Channel | None:
    template_settings = settings.sms_sign_name or settings.sms_template_codes
    if not settings.sms_url:
        if settings.sms_style == "template" or template_settings:
            raise _misconfigured(
                "SMS_URL", "已配置短信模板但缺少短信接口地址", "SMS templates set without a URL"
            )
        return None
    token = _secret(settings.sms_token)
    if settings.sms_style == "generic":
        return SmsGatewayChannel(settings.sms_url, token=token)
    if not settings.sms_sign_name:
        raise _misconfigured("SMS_SIGN_NAME", "模板短信缺少短信签名", "template-style SMS needs a signature")
    if not settings.sms_template_codes:
        raise _misconfigured(
            "SMS_TEMPLATE_CODES",
            "模板短信缺少模板代码（JSON：消息键 → 模板代码）",
            'template-style SMS needs the template codes (JSON: {"message key": "SMS_…"})',
        )
    return SmsTemplateChannel(
        settings.sms_url,
        sign_name=settings.sms_sign_name,
        template_codes=settings.sms_template_codes,
        token=token,
        param_max_chars=settings.sms_param_max_chars,
    )


def _smtp(settings: Settings) -> SmtpChannel | None:
    if not settings.smtp_host:
        if settings.alert_emails:
            raise _misconfigured(
                "SMTP_HOST", "已配置提醒邮箱但缺少邮件服务器", "alert e-mails need an SMTP server"
            )
        return None
    if "@" not in settings.smtp_from:
        raise _misconfigured("SMTP_FROM", "缺少或无效的发件人地址", "the From address is missing or invalid")
    if settings.smtp_user and settings.smtp_password is None:
        raise _misconfigured(
            "SMTP_PASSWORD", "已设置邮件用户名但缺少密码", "SMTP user set without a password"
        )
    return SmtpChannel(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=_secret(settings.smtp_password),
            from_address=settings.smtp_from,
        )
    )


def _wechat(settings: Settings) -> WechatChannel | None:
    if not settings.wechat_appid:
        if settings.wechat_secret is not None or settings.wechat_templates:
            raise _misconfigured(
                "WECHAT_APPID", "已配置微信但缺少公众号 AppID", "WeChat set without an AppID"
            )
        return None
    if not _secret(settings.wechat_secret):
        raise _misconfigured(
            "WECHAT_SECRET", "缺少公众号 AppSecret", "the official account's secret is missing"
        )
    return WechatChannel(
        appid=settings.wechat_appid,
        secret=_secret(settings.wechat_secret),
        templates=_wechat_templates(settings.wechat_templates),
        api_base=settings.wechat_api_base,
    )


def _wechat_templates(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, WechatTemplate]:
    if not raw:
        raise _misconfigured(
            "WECHAT_TEMPLATES",
            "缺少微信模板配置",
            'WeChat needs its templates (JSON: {"key": {"template_id": "…", "fields": {"thing1": "text"}}})',
        )
    templates: dict[str, WechatTemplate] = {}
    for key, entry in raw.items():
        template_id = entry.get("template_id")
        fields = entry.get("fields", {})
        valid_fields = isinstance(fields, dict) and all(
            isinstance(name, str) and isinstance(param, str) for name, param in fields.items()
        )
        if not isinstance(template_id, str) or not template_id or not valid_fields:
            raise _misconfigured(
                "WECHAT_TEMPLATES",
                f"微信模板 {key} 需要 template_id 和 fields（字段 → 参数名）",
                f"the WeChat template for {key} needs a template_id and fields {{field: param}}",
            )
        templates[key] = WechatTemplate(template_id=template_id, fields=dict(fields))
    return templates


def _alerts(settings: Settings, smtp: SmtpChannel | None) -> list[AlertTarget]:
    alerts: list[AlertTarget] = []
    for number, address in enumerate(settings.alert_emails, start=1):
        if "@" not in address or smtp is None:  # the address itself is never echoed: it is personal
            raise _misconfigured(
                "ALERT_EMAILS", f"第 {number} 个提醒邮箱地址无效", f"alert address number {number} is invalid"
            )
        alerts.append(AlertTarget(channel="email", sender=smtp, to=address, name=f"email-{number}"))
    if settings.webhook_url:
        if not _secret(settings.webhook_secret):
            raise _misconfigured(
                "WEBHOOK_SECRET", "合作方推送地址需要签名密钥", "the partner webhook needs a secret"
            )
        partner = WebhookChannel(settings.webhook_url, secret=_secret(settings.webhook_secret))
        alerts.append(
            AlertTarget(channel="webhook", sender=partner, to="partner-webhook", name="partner-webhook")
        )
    if settings.alert_bot_url:
        bot = GroupBotChannel(
            settings.alert_bot_url, style=settings.alert_bot_style, secret=_secret(settings.alert_bot_secret)
        )
        alerts.append(AlertTarget(channel="webhook", sender=bot, to="group-bot", name="group-bot"))
    return alerts
