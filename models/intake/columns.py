"""A sign-up sheet's columns: the canonical names, and the header texts (zh-CN, English) mapping to them."""

from __future__ import annotations

import re
import unicodedata

from models.registry import HLA_HEADERS

__all__ = ["CHINESE_COLUMN_NAMES", "HLA_HEADERS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "canonical_column"]


REQUIRED_COLUMNS: tuple[str, ...] = ("name", "sex", "national_id", "phone", "consent_at")
OPTIONAL_COLUMNS: tuple[str, ...] = ("birth_date", "email", "blood_group", "external_id", *HLA_HEADERS)
CHINESE_COLUMN_NAMES: dict[str, str] = {
    "name": "姓名",
    "sex": "性别",
    "birth_date": "出生日期",
    "national_id": "身份证号",
    "phone": "手机号",
    "email": "邮箱",
    "blood_group": "血型",
    "consent_at": "知情同意时间",
    "external_id": "外部编号",
}
_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "姓名"),
    "sex": ("sex", "gender", "性别"),
    "birth_date": ("birth_date", "date of birth", "birthday", "dob", "出生日期", "生日"),
    "national_id": ("national_id", "id number", "id_no", "resident id", "身份证号", "身份证号码", "身份证"),
    "phone": (
        "phone",
        "mobile",
        "phone number",
        "mobile phone",
        "手机号",
        "手机号码",
        "手机",
        "电话",
        "联系电话",
    ),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "电子邮件"),
    "blood_group": ("blood_group", "blood type", "abo", "血型"),
    "consent_at": ("consent_at", "consent", "consent date", "consent time", "知情同意时间", "同意时间"),
    "external_id": ("external_id", "外部编号"),
}
_NOTE_RE = re.compile(r"\(.*\)$")  # "手机号（必填）", "出生日期(yyyy-mm-dd)"
_KEY_DROP_RE = re.compile(r"[\s_\-.*:]+")


def _header_key(label: str) -> str:
    key = unicodedata.normalize("NFKC", label).strip().lower()
    key = _NOTE_RE.sub("", key)
    return _KEY_DROP_RE.sub("", key)


def _build_lookup() -> dict[str, str]:
    lookup = {_header_key(alias): column for column, aliases in _ALIASES.items() for alias in aliases}
    for column in HLA_HEADERS:  # A_1, A1, A-1, HLA-A_1, hla a1 all reduce to "a1"
        lookup[_header_key(column)] = column
    return lookup


_LOOKUP = _build_lookup()


def canonical_column(label: str) -> str | None:
    key = _header_key(label)
    if key.startswith("hla") and _LOOKUP.get(key[3:], "") in HLA_HEADERS:
        key = key[3:]
    return _LOOKUP.get(key)
