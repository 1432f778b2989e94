"""Every packaged template, in both languages and on every channel of its catalogue entry, renders from
its sample context within the channel's limits, mentions only catalogue fields, and never a person."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, nodes

import notifications
from models.core import ValidationError
from notifications.catalogue import CATALOGUE, DONATION_TYPES, FOLLOW_UP_LABELS, sample_context
from notifications.render import DEMO_BRANCHES, LANGUAGES, Renderer
from notifications.sms_length import sms_parts

TEMPLATES = Path(notifications.__file__).parent / "templates"
GLOBALS = {"branch", "hotline", "signature"}
CASES = [
    (key, lang, channel) for key, spec in CATALOGUE.items() for lang in LANGUAGES for channel in spec.channels
]
WECHAT_MAX = 200  # catalogue.md
WEBHOOK_MAX = 2000
# Fields, attributes and keys a template must never read: personal data is not in any context, and a
# template that asks for it is a template someone meant to fill with it.
PERSONAL = {
    "name",
    "full_name",
    "phone",
    "mobile",
    "email",
    "id_number",
    "national_id",
    "national_id_hash",
    "national_id_masked",
    "openid",
    "wechat_openid",
    "address",
    "birth_date",
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _id(case: tuple[str, str, str]) -> str:
    return "/".join(case)


@pytest.mark.parametrize(("key", "lang", "channel"), CASES, ids=[_id(c) for c in CASES])
def test_every_template_renders_its_sample_within_the_channel_limits(
    renderer: Renderer, key: str, lang: str, channel: str
) -> None:
    rendered = renderer.render(key, channel, lang, sample_context(key))
    assert rendered.text.strip()
    assert "{{" not in rendered.text and "{%" not in rendered.text
    if channel == "email":
        assert rendered.subject and "\n" not in rendered.subject
        assert rendered.html.startswith("<!DOCTYPE html>") and rendered.html.endswith("</html>")
        assert DEMO_BRANCHES[lang].hotline in rendered.text or CATALOGUE[key].audience == "coordinators"
    else:
        assert not rendered.subject and not rendered.html
    if channel == "sms":
        signature = DEMO_BRANCHES[lang].signature
        assert rendered.text.startswith(f"【{signature}】" if lang == "zh-CN" else f"[{signature}]")
        assert sms_parts(rendered.text) <= renderer.max_sms_parts
    if channel == "wechat":
        assert len(rendered.text) <= WECHAT_MAX
    if channel == "webhook":
        assert len(rendered.text) <= WEBHOOK_MAX
    if "link" in CATALOGUE[key].fields:  # coordinator alerts carry the link to the run
        link = str(sample_context(key)["link"])
        assert link in rendered.text
        if channel == "email":
            assert f'href="{link}"' in rendered.html


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("label", [*FOLLOW_UP_LABELS, "day-2", "year-10"])
def test_every_follow_up_label_renders_on_every_channel(renderer: Renderer, label: str, lang: str) -> None:
    texts = [
        renderer.render("follow_up", channel, lang, {**sample_context("follow_up"), "label": label}).text
        for channel in CATALOGUE["follow_up"].channels
    ]
    assert all(label not in text for text in texts)  # a label is worded for people, never printed raw


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("donation_type", DONATION_TYPES)
def test_every_donation_type_has_its_own_blood_reinvitation_wording(
    renderer: Renderer, donation_type: str, lang: str
) -> None:
    context = {**sample_context("blood_reinvitation"), "donation_type": donation_type}
    texts = {renderer.render("blood_reinvitation", "sms", lang, context).text}
    others = {
        renderer.render("blood_reinvitation", "sms", lang, {**context, "donation_type": other}).text
        for other in DONATION_TYPES
        if other != donation_type
    }
    assert not texts & others and "_" not in next(iter(texts))  # worded, never the raw key


def test_an_unknown_follow_up_label_or_donation_type_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValidationError, match="follow_up.sms"):
        renderer.render("follow_up", "sms", "zh-CN", {**sample_context("follow_up"), "label": "decade_1"})
    with pytest.raises(ValidationError, match="blood_reinvitation.sms"):
        renderer.render(
            "blood_reinvitation",
            "sms",
            "en",
            {**sample_context("blood_reinvitation"), "donation_type": "bone"},
        )


@pytest.mark.parametrize("channel", CATALOGUE["gcsf_schedule"].channels)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("field", CATALOGUE["gcsf_schedule"].fields)
def test_a_missing_field_fails_the_render_and_names_the_template_and_the_field(
    renderer: Renderer, field: str, lang: str, channel: str
) -> None:
    context = sample_context("gcsf_schedule")
    del context[field]
    with pytest.raises(ValidationError) as caught:
        renderer.render("gcsf_schedule", channel, lang, context)
    assert f"{lang}/gcsf_schedule.{channel}.j2" in str(caught.value) and field in str(caught.value)


def test_the_template_files_are_exactly_the_catalogue() -> None:
    files = {str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*") if path.is_file()}
    expected = {f"{lang}/{key}.{channel}.j2" for key, lang, channel in CASES}
    assert files - expected == set(), "templates the catalogue does not name"
    assert expected - files == set(), "catalogue messages without a template"


def _read_names(source: str) -> set[str]:
    """Every variable, attribute and constant key a template reads."""
    tree = Environment().parse(source)
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    names |= {node.attr for node in tree.find_all(nodes.Getattr)}
    names |= {
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)
    }
    return names


def test_the_personal_data_scan_catches_a_template_that_asks_for_a_person() -> None:
    for source in ("{{ phone }}", "{{ donor.name }}", "{% if email %}x{% endif %}", "{{ ctx['id_number'] }}"):
        assert _read_names(source) & PERSONAL, source


@pytest.mark.parametrize(("key", "lang", "channel"), CASES, ids=[_id(c) for c in CASES])
def test_templates_read_only_their_catalogue_fields_and_never_personal_data(
    key: str, lang: str, channel: str
) -> None:
    source = (TEMPLATES / lang / f"{key}.{channel}.j2").read_text(encoding="utf-8")
    names = _read_names(source)
    assert not names & PERSONAL
    tree = Environment().parse(source)
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "store"}
    read = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    assert read - assigned - GLOBALS <= set(CATALOGUE[key].fields)


def test_how_many_sms_fit_one_part_with_the_demo_branch(renderer: Renderer) -> None:
    """The catalogue asks a zh-CN SMS to fit one part where it can: these do with the demo branch's
    signature and hotline (a longer signature may push one to a second part, never past the limit)."""
    one_part = {
        lang: sorted(
            key
            for key, spec in CATALOGUE.items()
            if "sms" in spec.channels
            and sms_parts(renderer.render(key, "sms", lang, sample_context(key)).text) == 1
        )
        for lang in LANGUAGES
    }
    assert one_part["zh-CN"] == sorted(
        set(CATALOGUE)
        - {"sample_booking", "exam_booking", "gcsf_schedule", "follow_up"}
        - {k for k, s in CATALOGUE.items() if "sms" not in s.channels}
    )
    assert len(one_part["zh-CN"]) == 10 and len(one_part["en"]) == 8
