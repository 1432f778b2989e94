"""The message catalogues: the same keys in zh-CN and en, every key a template names exists, zh-CN first."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.i18n import DEFAULT_LANG, LANGS, Translator, catalogue, pick_lang
from models.accounts import Role
from models.cases import FUNNEL_KEYS

TEMPLATES = Path(__file__).resolve().parents[3] / "dashboard" / "templates"


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) == set(en)
    assert all(text.strip() for text in [*zh.values(), *en.values()])


def test_every_key_the_templates_and_pages_name_is_in_the_catalogue() -> None:
    sources = [path.read_text(encoding="utf-8") for path in TEMPLATES.glob("*.html")]
    sources += [path.read_text(encoding="utf-8") for path in TEMPLATES.parent.glob("*.py")]
    named = {key for source in sources for key in re.findall(r"""\bt\(\s*["'](\w+\.[\w.]+)["']""", source)}
    named |= {
        key
        for source in sources
        for key in re.findall(r"""["']((?:login|error|funnel)\.[\w]+)["']""", source)
    }
    named = {key for key in named if not key.endswith((".", ".html"))}  # "stage." ~ key, template names
    named |= {f"stage.{key}" for key in FUNNEL_KEYS} | {f"role.{role.value}" for role in Role}
    assert len(named) > 20
    assert named - set(catalogue("zh-CN")) == set()


def test_zh_cn_unless_the_query_or_the_cookie_names_another_known_language() -> None:
    assert DEFAULT_LANG == "zh-CN" and LANGS[0] == "zh-CN"
    assert pick_lang(None, None) == "zh-CN"
    assert pick_lang("en", "zh-CN") == "en"
    assert pick_lang(None, "en") == "en"
    assert pick_lang("fr", "<script>") == "zh-CN"


def test_a_translator_fills_placeholders_and_shows_a_missing_key_as_itself() -> None:
    assert Translator("zh-CN")("login.throttled", minutes=15) == "登录失败次数过多，请 15 分钟后再试。"
    assert Translator("en")("no.such.key") == "no.such.key"
