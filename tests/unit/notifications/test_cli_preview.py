"""`donorflow notify preview` without a database: the sample context, the branch's settings, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from donorflow import bootstrap
from donorflow.cli import app
from donorflow.settings import Settings
from notifications.catalogue import CATALOGUE

runner = CliRunner()


@pytest.fixture(autouse=True)
def demo_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo branch, whatever the environment or a .env says (preview reads the composition root)."""
    monkeypatch.setattr(bootstrap, "get_settings", lambda: Settings(_env_file=None))


def test_preview_of_an_sms_prints_the_text_and_its_part_count() -> None:
    result = runner.invoke(app, ["notify", "preview", "exam_booking", "--lang", "zh-CN", "--channel", "sms"])
    assert result.exit_code == 0, result.output
    assert (
        "【郑州红十字会】志愿者ZZ26-000123您好：已为您预约2026年12月1日在郑州大学第一附属医院"
        in result.stdout
    )
    assert "SMS parts: 2 (UCS-2, 93 characters)" in result.stdout


def test_preview_of_an_email_prints_subject_text_and_html() -> None:
    result = runner.invoke(
        app, ["notify", "preview", "alert_case_overdue", "--lang", "en", "--channel", "email"]
    )
    assert result.exit_code == 0, result.output
    assert "Subject: [Overdue] case" in result.stdout
    assert "Dear coordinators," in result.stdout and "<!DOCTYPE html>" in result.stdout
    assert "SMS parts" not in result.stdout


def test_preview_defaults_to_the_first_channel_of_the_message() -> None:
    member = json.loads(runner.invoke(app, ["notify", "preview", "donation_thanks", "--json"]).stdout)
    alert = json.loads(runner.invoke(app, ["notify", "preview", "alert_balance", "--json"]).stdout)
    assert (member["channel"], member["language"], member["sms"]["parts"]) == ("sms", "zh-CN", 1)
    assert alert["channel"] == "email" and alert["subject"] and alert["html"]


def test_preview_uses_the_branch_settings_and_its_own_wording(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "availability_check.sms.j2").write_text(
        "【{{ signature }}】本分会的措辞 {{ code }}", encoding="utf-8"
    )
    settings = Settings(_env_file=None, sms_signature="开封红十字会", templates_dir=tmp_path)
    monkeypatch.setattr(bootstrap, "get_settings", lambda: settings)
    result = runner.invoke(app, ["notify", "preview", "availability_check", "--json"])
    assert json.loads(result.stdout)["text"] == "【开封红十字会】本分会的措辞 ZZ26-000123"


@pytest.mark.parametrize(
    ("args", "message", "valid"),
    [
        (["exam_bookin"], "unknown message key 'exam_bookin'", list(CATALOGUE)),
        (["exam_booking", "--channel", "webhook"], "has no channel 'webhook'", ["sms", "email", "wechat"]),
        (["alert_balance", "--channel", "sms"], "has no channel 'sms'", ["email", "webhook"]),
        (["exam_booking", "--lang", "fr"], "unknown language 'fr'", ["zh-CN", "en"]),
    ],
    ids=["key", "member-channel", "alert-channel", "language"],
)
def test_bad_input_exits_2_with_one_bilingual_line_listing_the_valid_choices(
    args: list[str], message: str, valid: list[str]
) -> None:
    result = runner.invoke(app, ["notify", "preview", *args])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and result.stdout == ""
    assert message in lines[0] and "可选 valid: " + ", ".join(valid) in lines[0]
    assert any("\u4e00" <= char <= "\u9fff" for char in lines[0])  # the Chinese half is there too


def test_a_render_the_branch_wording_breaks_exits_2_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "donation_thanks.sms.j2").write_text(
        "[{{ signature }}] {{ nickname }}", encoding="utf-8"
    )
    settings = Settings(_env_file=None, templates_dir=tmp_path)
    monkeypatch.setattr(bootstrap, "get_settings", lambda: settings)
    result = runner.invoke(app, ["notify", "preview", "donation_thanks", "--lang", "en"])
    assert result.exit_code == 2 and "en/donation_thanks.sms.j2: missing field(s) nickname" in result.stderr


def test_preview_reads_the_branch_from_donorflow_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "campaign_0614.sms.j2").write_text(
        "[{{ signature }}] 14 June {{ year }}", encoding="utf-8"
    )
    monkeypatch.setenv("DONORFLOW_BRANCH_NAME", "开封市红十字会")
    monkeypatch.setenv("DONORFLOW_BRANCH_NAME_EN", "Kaifeng Red Cross")
    monkeypatch.setenv("DONORFLOW_TEMPLATES_DIR", str(tmp_path))
    monkeypatch.setattr(bootstrap, "get_settings", lambda: Settings(_env_file=None))
    zh = runner.invoke(app, ["notify", "preview", "campaign_0614", "--channel", "wechat"]).stdout
    en = runner.invoke(app, ["notify", "preview", "campaign_0614", "--lang", "en", "--json"]).stdout
    assert "开封市红十字会" in zh and json.loads(en)["text"] == "[Kaifeng Red Cross] 14 June 2027"
    monkeypatch.setenv("DONORFLOW_TEMPLATES_DIR", str(tmp_path / "nowhere"))
    missing = runner.invoke(app, ["notify", "preview", "campaign_0614"])
    assert missing.exit_code == 1 and "nowhere" in missing.stderr
