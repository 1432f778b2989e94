"""The dashboard's texts: message catalogues per language (messages/<lang>.json, plus one file per part of
the app, messages/<part>.<lang>.json, merged; a key defined twice is an error), zh-CN by default.

A visitor switches with `?lang=en` (or `?lang=zh-CN`) on any page; the choice is kept in the `lang`
cookie. Python code names message keys, never user text (STYLE.md: texts live in catalogues).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["DEFAULT_LANG", "LANGS", "Translator", "catalogue", "pick_lang"]

DEFAULT_LANG = "zh-CN"
LANGS = ("zh-CN", "en")
_DIR = Path(__file__).with_name("messages")


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted([_DIR / f"{lang}.json", *_DIR.glob(f"*.{lang}.json")]):
        loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        twice = merged.keys() & loaded.keys()
        if twice:
            raise ValueError(f"{path.name}: keys defined in another catalogue too: {sorted(twice)}")
        merged.update(loaded)
    return merged


def pick_lang(query: str | None, cookie: str | None) -> str:
    """The query's language if it names one we have, else the cookie's, else zh-CN."""
    for wanted in (query, cookie):
        if wanted in LANGS:
            return wanted
    return DEFAULT_LANG


class Translator:
    """`t("key", n=3)`: the text in this language, its {placeholders} filled; a missing key shows itself
    (a test checks both catalogues have the same keys, so this happens only in development)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._messages = catalogue(lang)

    def label(self, group: str, value: object) -> str:
        """A stored value's name in this language (`close_reason`, `not_selected` → 未被选中); the value
        itself when the catalogue has none (a new value shows as stored rather than not at all)."""
        if value is None or value == "":
            return ""
        return self._messages.get(f"{group}.{value}", str(value))

    def __call__(self, key: str, **values: object) -> str:
        text = self._messages.get(key)
        if text is None:
            return key
        return text.format(**values) if values else text
