"""The cell rules of a sign-up row: each checks one cell and appends its errors, never quoting the value."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime

import email_validator
import phonenumbers
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumValidationError

from hla import HlaError, parse_typing
from models.intake.sheet_dates import LOCAL_TZ, parse_sheet_date, parse_sheet_datetime
from models.registry import HLA_HEADERS, column_locus

__all__ = [
    "FORMULA_ERROR",
    "FORMULA_STARTS",
    "MAX_TEXT",
    "check_birth_date",
    "check_blood_group",
    "check_characters",
    "check_consent",
    "check_email",
    "check_hla",
    "check_name",
    "check_national_id",
    "check_phone",
    "check_sex",
    "stripped_cell",
]


_EARLIEST_CONSENT = datetime(1990, 1, 1, tzinfo=LOCAL_TZ)
MAX_TEXT = 64
_SCIENTIFIC_RE = re.compile(r"\d+(?:\.\d*)?[eE][+-]?\d+|\d{12,}\.\d*")  # "4.10102199001011E+17"
_PHONE_SEPARATORS_RE = re.compile(r"[\s\-().]")
_MAINLAND_MOBILE_RE = re.compile(r"(?:\+86|0086|86)?(1\d{10})")
_ID_SEPARATORS_RE = re.compile(r"[\s\-]")
_ID_SHAPE_RE = re.compile(r"\d{17}[\dX]")
_BLOOD_NOISE_RE = re.compile(r"[\s()]|血$")
_BLOOD_RE = re.compile(r"(AB|A|B|O)型?(?:RHD?)?(\+|-|阳性?|阴性?|POS(?:ITIVE)?|NEG(?:ATIVE)?)?")
_BLOOD_UNKNOWN = frozenset({"不详", "未知", "不清楚", "UNKNOWN", "?", "-"})
_RH_SIGNS = {"+": "+", "阳": "+", "阳性": "+", "POS": "+", "POSITIVE": "+"}
_SEXES = {"m": "M", "male": "M", "男": "M", "男性": "M", "f": "F", "female": "F", "女": "F", "女性": "F"}
_LOCATIONS = numdb.get("cn/loc")
# Characters no sign-up cell may hold: C0 and C1 controls (NUL breaks PostgreSQL text, a line break
# splits a name across lines), and the Unicode bidi controls that reorder what a screen shows (Trojan
# Source, CVE-2021-42574). The three direction *marks* are harmless in a right-to-left name.
_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BIDI_MARKS = frozenset("\u061c\u200e\u200f")  # allowed in the name only
# OWASP "CSV Injection": a text kept as written that starts like this becomes a formula when someone
# exports it to a spreadsheet. Leading tab/CR are stripped before this check, so "\t=1" is caught too.
FORMULA_STARTS = ("=", "+", "-", "@")
FORMULA_ERROR = "starts with = + - or @ (looks like a formula)"


def stripped_cell(cells: Mapping[str, str | None], column: str) -> str | None:
    value = cells.get(column)
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_characters(cells: Mapping[str, str | None], errors: list[str]) -> set[str]:
    """Columns whose cell holds a control or bidi character, each reported once (never the value)."""
    unsafe: set[str] = set()
    for column, value in cells.items():
        if value is None or _UNSAFE_RE.search(value) is None:
            continue
        found = set(_UNSAFE_RE.findall(value))
        if column == "name":
            found -= _BIDI_MARKS
        if not found:
            continue
        if found - _BIDI - _LINE_BREAKS:
            what = "a control character"
        elif found & _LINE_BREAKS:
            what = "a line break"
        else:
            what = "a bidi (text direction) control"
        errors.append(f"{column}: contains {what} (retype the cell)")
        unsafe.add(column)
    return unsafe


def check_name(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        errors.append("name: required")
        return None
    before = len(errors)
    if len(value) > MAX_TEXT:
        errors.append(f"name: longer than {MAX_TEXT} characters")
    if any(ch.isdigit() for ch in value):
        errors.append("name: contains digits")
    if value.startswith(FORMULA_STARTS):  # never a real name; a formula if re-exported carelessly
        errors.append(f"name: {FORMULA_ERROR}")
    return value if len(errors) == before else None


def check_sex(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        errors.append("sex: required")
        return None
    sex = _SEXES.get(unicodedata.normalize("NFKC", value).lower())
    if sex is None:
        errors.append("sex: not one of M/F, 男/女, male/female")
    return sex


def check_national_id(value: str | None, today: date, errors: list[str]) -> tuple[str | None, date | None]:
    """The 18-character resident ID (GB 11643-1999) and its birth date, or (None, None) with an error."""
    if value is None:
        errors.append("national_id: required")
        return None, None
    if _SCIENTIFIC_RE.fullmatch(value):
        errors.append(
            "national_id: stored as a number in Excel, so its last digits are lost; "
            "format the column as text and type it again"
        )
        return None, None
    number = _ID_SEPARATORS_RE.sub("", unicodedata.normalize("NFKC", value)).upper()
    if not _ID_SHAPE_RE.fullmatch(number):
        errors.append("national_id: not 18 digits")
        return None, None
    if number[-1] != ric.calc_check_digit(number):  # GB 11643-1999 §5.5: ISO 7064 MOD 11-2
        errors.append("national_id: check digit does not match")
        return None, None
    try:
        birth = ric.get_birth_date(number)
    except StdnumValidationError:
        errors.append("national_id: birth date in the ID is not a date")
        return None, None
    if birth > today:
        errors.append("national_id: birth date in the ID is in the future")
        return None, None
    if not _place_code_known(number[:6], birth.year):
        errors.append("national_id: unknown birth-place code")
        return None, None
    return number, birth


@functools.cache
def _place_code_known(code: str, birth_year: int) -> bool:
    """Whether stdnum's GB/T 2260 table knows `code` as a county still in use in or after `birth_year`.

    Deliberately looser than `ric.validate`, which wants the county to exist in the birth year itself: the
    address code is that of the residence when the number was *assigned* (GB 11643-1999 §5.2), often
    years after birth — e.g. 410102 中原区 dates from 1983 and 410181 巩义市 from 1991, yet members born
    in 1978 carry them. A code abolished before the birth year cannot have been assigned and is refused.
    """
    info = {key: value for _part, props in _LOCATIONS.info(code) for key, value in props.items()}
    counties = info.get("county")
    if not counties:
        return False
    for county in counties.split(","):
        if not county.startswith("["):
            return True
        end = county[1:].split("]", 1)[0].partition("-")[2]
        if not end or int(end) >= birth_year:
            return True
    return False


def check_birth_date(value: str | None, id_birth: date | None, errors: list[str]) -> date | None:
    """The birth date: the ID's when the ID is valid (the column, if given, must agree), else the column's."""
    if value is None:
        return id_birth
    parsed = parse_sheet_date(value)
    if parsed is None:
        errors.append("birth_date: not a date (use 1990-05-01)")
        return id_birth
    if id_birth is not None and parsed != id_birth:
        errors.append("birth_date: does not match the birth date in national_id")
    return id_birth or parsed


def check_phone(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        errors.append("phone: required")
        return None
    if _SCIENTIFIC_RE.fullmatch(value):
        errors.append("phone: stored as a number in scientific notation; format the column as text")
        return None
    match = _MAINLAND_MOBILE_RE.fullmatch(_PHONE_SEPARATORS_RE.sub("", unicodedata.normalize("NFKC", value)))
    if match is not None:
        digits = match.group(1)
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(digits))
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
            return digits
    errors.append("phone: not a mainland mobile number")
    return None


def check_email(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        return None
    if value.startswith(FORMULA_STARTS):  # valid in a local part, but kept as written: refuse it
        errors.append(f"email: {FORMULA_ERROR}")
        return None
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError:
        # The library's own message may quote parts of the address: never pass it on.
        errors.append("email: not a valid address")
        return None


def check_blood_group(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        return None
    text = _BLOOD_NOISE_RE.sub("", unicodedata.normalize("NFKC", value).upper())
    if text in _BLOOD_UNKNOWN:
        return None
    match = _BLOOD_RE.fullmatch(text)
    if match is None:
        errors.append("blood_group: not one of A, B, AB, O (optionally with Rh + or -)")
        return None
    group, rh = match.groups()
    return group if rh is None else group + _RH_SIGNS.get(rh, "-")


def check_consent(value: str | None, now: datetime, errors: list[str]) -> datetime | None:
    if value is None:
        errors.append("consent_at: required")
        return None
    consent_at = parse_sheet_datetime(value)
    if consent_at is None:
        errors.append("consent_at: not a date or time (use 2021-05-01 or 2021-05-01 10:30)")
        return None
    if consent_at > now:
        errors.append("consent_at: in the future")
        return None
    if consent_at < _EARLIEST_CONSENT:
        errors.append("consent_at: before 1990")
        return None
    return consent_at


def check_hla(cells: Mapping[str, str | None], errors: list[str]) -> dict[str, str]:
    """Typings kept as written by the lab, each checked against WHO nomenclature for its column's locus
    (the lab's text is not personal data, so the error may quote it)."""
    hla: dict[str, str] = {}
    for column in HLA_HEADERS:
        typing = stripped_cell(cells, column)
        if typing is None:
            continue
        if len(typing) > MAX_TEXT:
            errors.append(f"{column}: HLA typing longer than {MAX_TEXT} characters")
        elif any(ch.isspace() for ch in typing):
            errors.append(f"{column}: HLA typing contains spaces")
        else:
            try:
                parse_typing(typing, column_locus(column))
            except HlaError as exc:
                errors.append(f"{column}: {exc}")
                continue
            hla[column] = typing
    return hla
