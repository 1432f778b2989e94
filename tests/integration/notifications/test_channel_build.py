"""build_channels: each setting gives its channel once; nothing set gives the file channel; a half-made
configuration is refused naming the setting."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from donorflow.channels import build_channels
from donorflow.settings import Settings
from models.core.errors import ConfigurationError
from notifications.channels import (
    FileChannel,
    GroupBotChannel,
    SmsGatewayChannel,
    SmsTemplateChannel,
    SmtpChannel,
    WebhookChannel,
    WechatChannel,
)
from notifications.message import ChannelSet, OutgoingMessage

WECHAT_TEMPLATES = '{"donation_thanks": {"template_id": "tpl-1", "fields": {"thing1": "text"}}}'


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean DONORFLOW_ environment: only what a test sets counts."""
    for name in list(os.environ):
        if name.startswith("DONORFLOW_") and name != "DONORFLOW_ID_SALT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("DONORFLOW_VAR_DIR", str(tmp_path))
    yield monkeypatch


def _build(environment: pytest.MonkeyPatch, **env: str) -> ChannelSet:
    for name, value in env.items():
        environment.setenv(name, value)
    return build_channels(Settings(_env_file=None))


def _close(channels: ChannelSet) -> None:
    asyncio.run(channels.aclose())


def test_nothing_configured_writes_every_channel_and_one_alert_target_to_the_outbox(
    environment: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="donorflow.channels"):
        channels = build_channels(Settings(_env_file=None))

    assert set(channels.members) == {"sms", "email", "wechat"}
    (file,) = {id(channel) for channel in channels.members.values()}
    assert isinstance(channels.members["sms"], FileChannel)
    (target,) = channels.alerts
    assert id(target.sender) == file and target.channel == "email"
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("no channel configured") and line.endswith(f"written to {tmp_path / 'outbox'}")
    message = OutgoingMessage("k1", "sms", "+8613812345678", "donation_thanks", "zh-CN", "谢谢")
    receipt = asyncio.run(channels.members["sms"].send(message))
    assert receipt.provider_message_id is not None
    assert list((tmp_path / "outbox").rglob("k1.sms.txt"))
    _close(channels)


def test_each_setting_builds_its_channel_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DONORFLOW_SMS_URL": "http://127.0.0.1:1/sms",
        "DONORFLOW_SMTP_HOST": "127.0.0.1",
        "DONORFLOW_SMTP_FROM": "noreply@redcross-zz.example.cn",
        "DONORFLOW_WECHAT_APPID": "wx-app",
        "DONORFLOW_WECHAT_SECRET": "wx-secret",
        "DONORFLOW_WECHAT_TEMPLATES": WECHAT_TEMPLATES,
        "DONORFLOW_ALERT_EMAILS": "coordinator.one@example.cn, coordinator.two@example.cn",
        "DONORFLOW_ALERT_BOT_URL": "http://127.0.0.1:1/bot",
        "DONORFLOW_ALERT_BOT_STYLE": "dingtalk",
        "DONORFLOW_WEBHOOK_URL": "http://127.0.0.1:1/hook",
        "DONORFLOW_WEBHOOK_SECRET": "hook-secret",
    }.items():
        environment.setenv(name, value)

    channels = build_channels(Settings(_env_file=None))

    assert isinstance(channels.members["sms"], SmsGatewayChannel)
    assert isinstance(channels.members["email"], SmtpChannel)
    assert isinstance(channels.members["wechat"], WechatChannel)
    described = [(t.channel, type(t.sender), t.to, t.name) for t in channels.alerts]
    assert described == [
        ("email", SmtpChannel, "coordinator.one@example.cn", "email-1"),
        ("email", SmtpChannel, "coordinator.two@example.cn", "email-2"),
        ("webhook", WebhookChannel, "partner-webhook", "partner-webhook"),
        ("webhook", GroupBotChannel, "group-bot", "group-bot"),
    ]
    assert channels.alerts[0].sender is channels.alerts[1].sender is channels.members["email"]  # one SMTP
    _close(channels)


def test_template_style_sms_is_built_with_its_codes(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DONORFLOW_SMS_TEMPLATE_CODES", '{"donation_thanks": "SMS_270002"}')
    channels = _build(
        environment,
        DONORFLOW_SMS_URL="http://127.0.0.1:1/sms",
        DONORFLOW_SMS_STYLE="template",
        DONORFLOW_SMS_SIGN_NAME="郑州红十字会",
    )

    assert isinstance(channels.members["sms"], SmsTemplateChannel)
    assert set(channels.members) == {"sms"} and channels.alerts == []  # no file stand-in once one is set
    _close(channels)


def test_alert_targets_alone_need_no_member_channel(environment: pytest.MonkeyPatch) -> None:
    channels = _build(environment, DONORFLOW_ALERT_BOT_URL="http://127.0.0.1:1/bot")

    assert channels.members == {}
    assert [(t.channel, t.name) for t in channels.alerts] == [("webhook", "group-bot")]
    _close(channels)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DONORFLOW_SMS_URL": "http://x/sms", "DONORFLOW_SMS_STYLE": "template"}, "DONORFLOW_SMS_SIGN_NAME"),
        (
            {
                "DONORFLOW_SMS_URL": "http://x/sms",
                "DONORFLOW_SMS_STYLE": "template",
                "DONORFLOW_SMS_SIGN_NAME": "红会",
            },
            "DONORFLOW_SMS_TEMPLATE_CODES",
        ),
        ({"DONORFLOW_SMS_STYLE": "template", "DONORFLOW_SMS_SIGN_NAME": "红会"}, "DONORFLOW_SMS_URL"),
        ({"DONORFLOW_SMTP_HOST": "127.0.0.1"}, "DONORFLOW_SMTP_FROM"),
        (
            {"DONORFLOW_SMTP_HOST": "127.0.0.1", "DONORFLOW_SMTP_FROM": "a@b.cn", "DONORFLOW_SMTP_USER": "u"},
            "DONORFLOW_SMTP_PASSWORD",
        ),
        ({"DONORFLOW_ALERT_EMAILS": "coordinator@example.cn"}, "DONORFLOW_SMTP_HOST"),
        (
            {"DONORFLOW_WECHAT_APPID": "wx-app", "DONORFLOW_WECHAT_TEMPLATES": WECHAT_TEMPLATES},
            "DONORFLOW_WECHAT_SECRET",
        ),
        ({"DONORFLOW_WECHAT_APPID": "wx-app", "DONORFLOW_WECHAT_SECRET": "s"}, "DONORFLOW_WECHAT_TEMPLATES"),
        (
            {
                "DONORFLOW_WECHAT_APPID": "wx-app",
                "DONORFLOW_WECHAT_SECRET": "s",
                "DONORFLOW_WECHAT_TEMPLATES": '{"donation_thanks": {"fields": {}}}',
            },
            "DONORFLOW_WECHAT_TEMPLATES",
        ),
        ({"DONORFLOW_WECHAT_SECRET": "s"}, "DONORFLOW_WECHAT_APPID"),
        ({"DONORFLOW_WEBHOOK_URL": "http://x/hook"}, "DONORFLOW_WEBHOOK_SECRET"),
    ],
)
def test_a_half_made_configuration_is_refused_in_both_languages_naming_the_setting(
    environment: pytest.MonkeyPatch, env: dict[str, str], setting: str
) -> None:
    for name, value in env.items():
        environment.setenv(name, value)

    with pytest.raises(ConfigurationError) as caught:
        build_channels(Settings(_env_file=None))
    assert setting in str(caught.value)
    assert any("\u4e00" <= character <= "\u9fff" for character in str(caught.value))  # zh-CN first
    assert ": set " + setting in str(caught.value)


def test_an_invalid_alert_address_is_refused_without_echoing_it(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="DONORFLOW_ALERT_EMAILS") as caught:
        _build(
            environment,
            DONORFLOW_SMTP_HOST="127.0.0.1",
            DONORFLOW_SMTP_FROM="a@b.cn",
            DONORFLOW_ALERT_EMAILS="good@example.cn,13812345678",
        )
    assert "number 2" in str(caught.value) and "13812345678" not in str(caught.value)
