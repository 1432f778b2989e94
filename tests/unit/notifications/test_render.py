"""The renderer: escaping, a branch's own wording, its globals, language fallback, errors without data."""

from __future__ import annotations

from pathlib import Path

import pytest

from donorflow import bootstrap
from donorflow.settings import Settings
from models.core import ConfigurationError, ValidationError
from notifications.catalogue import sample_context
from notifications.render import DEMO_BRANCHES, Branch, Renderer, resolve_language

HOSPITAL = "<b>&</b>"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _exam(**changes: object) -> dict[str, object]:
    return {**sample_context("exam_booking"), **changes}


def test_a_hospital_named_like_markup_is_escaped_in_html_and_verbatim_in_plain_parts(
    renderer: Renderer,
) -> None:
    for lang in ("zh-CN", "en"):
        email = renderer.render("exam_booking", "email", lang, _exam(hospital=HOSPITAL))
        assert "&lt;b&gt;&amp;&lt;/b&gt;" in email.html and HOSPITAL not in email.html
        assert HOSPITAL in email.text and "&lt;" not in email.text and "&amp;" not in email.text
        for channel in ("sms", "wechat"):
            assert HOSPITAL in renderer.render("exam_booking", channel, lang, _exam(hospital=HOSPITAL)).text


def test_plain_parts_stay_verbatim_even_when_a_branch_template_forgets_autoescape_false(
    tmp_path: Path,
) -> None:
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "exam_booking.email.j2").write_text(
        "{% block subject %}体检 {{ hospital }}{% endblock %}"
        "{% block text %}{{ hospital }}{% endblock %}{% block html %}<p>{{ hospital }}</p>{% endblock %}",
        encoding="utf-8",
    )
    email = Renderer(tmp_path).render("exam_booking", "email", "zh-CN", _exam(hospital=HOSPITAL))
    assert (email.subject, email.text, email.html) == (
        f"体检 {HOSPITAL}",
        HOSPITAL,
        "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>",
    )


def test_a_line_break_in_a_value_cannot_break_the_subject_line(renderer: Renderer) -> None:
    context = {**sample_context("high_res_result"), "result": "10/10\r\nBcc: somebody"}
    subject = renderer.render("high_res_result", "email", "en", context).subject
    assert "\n" not in subject and "\r" not in subject and "10/10 Bcc: somebody" in subject


def test_a_branch_folder_wins_for_its_files_and_the_packaged_ones_serve_the_rest(tmp_path: Path) -> None:
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "exam_booking.sms.j2").write_text(
        "【{{ signature }}】{{ code }}：请于{{ exam_date }}到{{ hospital }}体检。本分会自定义。",
        encoding="utf-8",
    )
    branch, packaged = Renderer(tmp_path), Renderer()
    assert branch.render("exam_booking", "sms", "zh-CN", _exam()).text.endswith("本分会自定义。")
    for key, channel, lang in [
        ("exam_booking", "email", "zh-CN"),
        ("exam_booking", "sms", "en"),
        ("donation_thanks", "sms", "zh-CN"),
    ]:
        context = sample_context(key)
        assert branch.render(key, channel, lang, context) == packaged.render(key, channel, lang, context)


def test_a_missing_override_folder_is_a_configuration_error_not_a_silent_fallback(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Renderer(tmp_path / "no-such-folder")


def test_the_branch_globals_are_the_given_ones_per_language_and_the_demo_branch_otherwise() -> None:
    custom = Renderer(
        branches={"zh-CN": Branch(branch="开封市红十字会", hotline="0371-11111111", signature="开封红会")}
    )
    zh = custom.render("registration_welcome", "sms", "zh-CN", sample_context("registration_welcome")).text
    en = custom.render("registration_welcome", "sms", "en", sample_context("registration_welcome")).text
    assert zh.startswith("【开封红会】") and "0371-11111111" in zh
    assert en.startswith(f"[{DEMO_BRANCHES['en'].signature}]") and DEMO_BRANCHES["en"].hotline in en


def test_a_context_cannot_override_the_branch_globals(renderer: Renderer) -> None:
    context = {**sample_context("registration_welcome"), "signature": "骗子", "hotline": "400-000-0000"}
    text = renderer.render("registration_welcome", "sms", "zh-CN", context).text
    assert "骗子" not in text and "400-000-0000" not in text


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh-CN", "zh-CN"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("zh", "zh-CN"),
        ("fr", "zh-CN"),
        ("", "zh-CN"),
    ],
)
def test_a_member_language_tag_maps_to_a_template_language(tag: str, lang: str) -> None:
    assert resolve_language(tag) == lang


def test_an_unknown_language_falls_back_to_chinese(renderer: Renderer) -> None:
    context = sample_context("donation_thanks")
    assert renderer.render("donation_thanks", "sms", "fr", context) == renderer.render(
        "donation_thanks", "sms", "zh-CN", context
    )


def test_an_unknown_key_or_channel_is_a_validation_error(renderer: Renderer) -> None:
    with pytest.raises(ValidationError, match="no template zh-CN/nope.sms.j2"):
        renderer.render("nope", "sms", "zh-CN", {})
    with pytest.raises(ValidationError, match="no template en/high_res_result.sms.j2"):
        renderer.render("high_res_result", "sms", "en", sample_context("high_res_result"))


def test_a_variable_the_template_reads_in_a_branch_not_taken_is_still_required(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "custom.sms.j2").write_text(
        "{% if attempt > 1 %}{{ extra }}{% endif %}ok", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match=r"en/custom.sms.j2: missing field\(s\) extra"):
        Renderer(tmp_path).render("custom", "sms", "en", {"attempt": 1})
    assert Renderer(tmp_path).render("custom", "sms", "en", {"attempt": 1, "extra": "x"}).text == "ok"


def test_an_error_from_a_bad_value_never_carries_the_value(renderer: Renderer, tmp_path: Path) -> None:
    phone = "13800138000"  # a phone number where a date belongs
    with pytest.raises(ValidationError) as caught:
        renderer.render("exam_booking", "sms", "zh-CN", _exam(exam_date=phone))
    assert "exam_booking.sms.j2" in str(caught.value) and phone not in str(caught.value)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "custom.sms.j2").write_text("{% if attempt > 1 %}again{% endif %}", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:  # str > int: a TypeError whose message could quote it
        Renderer(tmp_path).render("custom", "sms", "en", {"attempt": phone})
    assert "custom.sms.j2: TypeError" in str(caught.value) and phone not in str(caught.value)


def test_an_sms_longer_than_the_part_limit_is_refused(renderer: Renderer) -> None:
    long_name = "郑州大学第一附属医院" * 12  # 120 characters: the text needs 4 parts of 67
    with pytest.raises(ValidationError, match="exam_booking.sms.j2: the SMS needs 4 parts, more than the 3"):
        renderer.render("exam_booking", "sms", "zh-CN", _exam(hospital=long_name))
    assert Renderer(max_sms_parts=4).render("exam_booking", "sms", "zh-CN", _exam(hospital=long_name))
    with pytest.raises(ValidationError, match="needs 2 parts"):
        Renderer(max_sms_parts=1).render("exam_booking", "sms", "zh-CN", _exam())
    # E-mail and WeChat are not SMS: no part limit there.
    assert renderer.render("exam_booking", "email", "zh-CN", _exam(hospital=long_name))


def test_times_are_shown_in_beijing_time_and_dates_in_each_language(renderer: Renderer) -> None:
    context = {**sample_context("alert_case_overdue"), "due_at": "2026-12-31T17:30:00+00:00"}
    assert "2027年1月1日 01:30" in renderer.render("alert_case_overdue", "webhook", "zh-CN", context).text
    assert "1 January 2027, 01:30" in renderer.render("alert_case_overdue", "webhook", "en", context).text
    naive = {**context, "due_at": "2026-12-31T17:30:00"}  # donorflow stores UTC: a naive time is UTC
    assert "2027年1月1日 01:30" in renderer.render("alert_case_overdue", "webhook", "zh-CN", naive).text
    assert "2026年12月1日（星期二）" in renderer.render("exam_booking", "wechat", "zh-CN", _exam()).text


def test_the_composition_root_gives_the_renderer_the_branch_settings(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "donation_thanks.sms.j2").write_text(
        "[{{ signature }}] {{ hotline }} {{ code }}", encoding="utf-8"
    )
    settings = Settings(
        branch_name="洛阳市红十字会",
        branch_name_en="Luoyang Red Cross",
        branch_hotline="0379-00000000",
        sms_signature="【洛阳红十字会】",
        templates_dir=tmp_path,
        max_sms_parts=2,
    )
    renderer = bootstrap.renderer(settings)
    zh = renderer.render("campaign_0614", "wechat", "zh-CN", sample_context("campaign_0614")).text
    sms = renderer.render("campaign_0614", "sms", "zh-CN", sample_context("campaign_0614")).text
    assert "洛阳市红十字会" in zh and sms.startswith("【洛阳红十字会】") and "【【" not in sms
    assert renderer.render("donation_thanks", "sms", "en", {"code": "ZZ26-1"}).text == (
        "[Luoyang Red Cross] 0379-00000000 ZZ26-1"
    )
    assert renderer.max_sms_parts == 2


def test_the_settings_defaults_are_the_demo_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BRANCH_NAME", "BRANCH_NAME_EN", "BRANCH_HOTLINE", "SMS_SIGNATURE", "TEMPLATES_DIR"):
        monkeypatch.delenv(f"DONORFLOW_{name}", raising=False)
    renderer = bootstrap.renderer(Settings(_env_file=None))
    assert renderer.branches == dict(DEMO_BRANCHES) and renderer.overrides is None
    assert Settings(_env_file=None, templates_dir="").templates_dir is None


def test_a_wechat_or_group_bot_text_longer_than_the_channel_takes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zh-CN").mkdir()
    (tmp_path / "zh-CN" / "custom.wechat.j2").write_text("{{ 'a' * n }}", encoding="utf-8")
    (tmp_path / "zh-CN" / "custom.webhook.j2").write_text("{{ 'a' * n }}", encoding="utf-8")
    renderer = Renderer(tmp_path)
    assert renderer.render("custom", "wechat", "zh-CN", {"n": 200}).text == "a" * 200
    with pytest.raises(ValidationError, match="custom.wechat.j2: 201 characters, more than the 200"):
        renderer.render("custom", "wechat", "zh-CN", {"n": 201})
    assert renderer.render("custom", "webhook", "zh-CN", {"n": 2000})
    with pytest.raises(ValidationError, match="custom.webhook.j2: 2001 characters"):
        renderer.render("custom", "webhook", "zh-CN", {"n": 2001})
