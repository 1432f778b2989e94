"""Validating one sign-up row: text cells → a `SignupRecord`, or a `RowRejection` listing every broken rule.

Pure and fast (no I/O, no database). Error messages name the column and the rule and never carry the
personal value, so a rejection can be logged, shown and exported as is.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

import email_validator
import phonenumbers
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumValidationError

from hla import HlaError, parse_typing
from models.core import SHANGHAI, mask_email, mask_name, mask_national_id, mask_phone
from models.intake.sheet import HLA_COLUMNS

__all__ = ["LOCAL_TZ", "RowRejection", "SignupRecord", "validate_row"]

LOCAL_TZ = SHANGHAI  # naive sheet times are the branch's local time
_EARLIEST_CONSENT = datetime(1990, 1, 1, tzinfo=LOCAL_TZ)
_MAX_TEXT = 64

_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")
# What may follow the date: nothing, or a time with an optional UTC offset ("T10:30:00+08:00", " 10:30").
_TIME_RE = re.compile(
    r"(?:(?:T|\s*)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:(Z)|([+-])(\d{2}):?(\d{2}))?)?\s*"
)
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
_SEX_WORDS = {"M": "male", "F": "female"}
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
_FORMULA_STARTS = ("=", "+", "-", "@")
_FORMULA_ERROR = "starts with = + - or @ (looks like a formula)"


@dataclass(frozen=True, repr=False)
class SignupRecord:
    """A valid sign-up row. Its repr masks name, phone, ID number, e-mail and birth day (STYLE.md)."""

    row: int
    name: str
    sex: str  # 'M' | 'F'
    birth_date: date
    national_id: str  # 18 characters, check character X in upper case
    phone: str  # 11 digits, mainland mobile
    email: str | None
    blood_group: str | None  # 'A', 'B', 'AB', 'O', optionally followed by Rh '+' or '-'
    consent_at: datetime  # timezone-aware
    hla: dict[str, str] = field(default_factory=dict, hash=False)  # 'A_1' → typing as written
    external_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"SignupRecord(row={self.row}, name={mask_name(self.name)!r}, sex={self.sex!r}, "
            f"birth_date='{self.birth_date.year}-**-**', national_id={mask_national_id(self.national_id)!r}, "
            f"phone={mask_phone(self.phone)!r}, email={mask_email(self.email)!r}, "
            f"blood_group={self.blood_group!r}, consent_at={self.consent_at.isoformat()!r}, "
            f"hla={self.hla!r}, external_id={self.external_id!r})"
        )


@dataclass(frozen=True)
class RowRejection:
    """A row that broke at least one rule; `errors` lists all of them (cells first, then cross-checks)."""

    row: int
    errors: tuple[str, ...]


def validate_row(
    row: int,
    cells: Mapping[str, str | None],
    *,
    drive_date: date | None,
    min_age: int = 18,
    max_age: int = 45,
    now: datetime | None = None,
) -> SignupRecord | RowRejection:
    """Check one sign-up row against every rule and collect all the errors.

    Age is counted on `drive_date`, or on the consent date when the drive date is unknown. `now` (default:
    the current time) bounds the consent time; pass one value for a whole import so every row sees the same.
    """
    errors: list[str] = []
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("validate_row: `now` must be timezone-aware")
    unsafe = _check_characters(cells, errors)
    if unsafe:  # those cells are judged on their characters alone: the other rules might quote them
        cells = {column: value for column, value in cells.items() if column not in unsafe}
    text = functools.partial(_text, cells)

    name = _check_name(text("name"), errors)
    sex = _check_sex(text("sex"), errors)
    national_id, id_birth = _check_national_id(text("national_id"), now.astimezone(LOCAL_TZ).date(), errors)
    birth_date = _check_birth_date(text("birth_date"), id_birth, errors)
    phone = _check_phone(text("phone"), errors)
    email = _check_email(text("email"), errors)
    blood_group = _check_blood_group(text("blood_group"), errors)
    consent_at = _check_consent(text("consent_at"), now, errors)
    hla = _check_hla(cells, errors)
    external_id = text("external_id")
    if external_id is not None and len(external_id) > _MAX_TEXT:
        errors.append(f"external_id: longer than {_MAX_TEXT} characters")
    elif external_id is not None and external_id.startswith(_FORMULA_STARTS):
        errors.append(f"external_id: {_FORMULA_ERROR}")

    if sex is not None and national_id is not None:
        id_sex = "M" if int(national_id[16]) % 2 else "F"  # GB 11643-1999 §5.4: odd sequence code = male
        if sex != id_sex:
            errors.append(f"sex: {_SEX_WORDS[sex]}, but national_id says {_SEX_WORDS[id_sex]}")
    if birth_date is not None:
        on, which = (drive_date, "drive date") if drive_date else (_local_date(consent_at), "consent date")
        if on is not None:
            age = _age_on(birth_date, on)
            if not min_age <= age <= max_age:  # CMDP: members join at 18–45 (limits are settings)
                errors.append(f"age {age} on the {which} is outside {min_age}–{max_age} (CMDP joining age)")

    if unsafe:  # a cell with a control character is not missing: it is to be retyped
        errors = [error for error in errors if error.removesuffix(": required") not in unsafe]
    if errors:
        return RowRejection(row=row, errors=tuple(errors))
    assert name and sex and national_id and birth_date and phone and consent_at  # no errors → all set
    return SignupRecord(
        row=row,
        name=name,
        sex=sex,
        birth_date=birth_date,
        national_id=national_id,
        phone=phone,
        email=email,
        blood_group=blood_group,
        consent_at=consent_at,
        hla=hla,
        external_id=external_id,
    )


def _text(cells: Mapping[str, str | None], column: str) -> str | None:
    value = cells.get(column)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _check_characters(cells: Mapping[str, str | None], errors: list[str]) -> set[str]:
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


def _check_name(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        errors.append("name: required")
        return None
    before = len(errors)
    if len(value) > _MAX_TEXT:
        errors.append(f"name: longer than {_MAX_TEXT} characters")
    if any(ch.isdigit() for ch in value):
        errors.append("name: contains digits")
    if value.startswith(_FORMULA_STARTS):  # never a real name; a formula if re-exported carelessly
        errors.append(f"name: {_FORMULA_ERROR}")
    return value if len(errors) == before else None


def _check_sex(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        errors.append("sex: required")
        return None
    sex = _SEXES.get(unicodedata.normalize("NFKC", value).lower())
    if sex is None:
        errors.append("sex: not one of M/F, 男/女, male/female")
    return sex


def _check_national_id(value: str | None, today: date, errors: list[str]) -> tuple[str | None, date | None]:
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


def _check_birth_date(value: str | None, id_birth: date | None, errors: list[str]) -> date | None:
    """The birth date: the ID's when the ID is valid (the column, if given, must agree), else the column's."""
    if value is None:
        return id_birth
    parsed = _parse_date(value)
    if parsed is None:
        errors.append("birth_date: not a date (use 1990-05-01)")
        return id_birth
    if id_birth is not None and parsed != id_birth:
        errors.append("birth_date: does not match the birth date in national_id")
    return id_birth or parsed


def _check_phone(value: str | None, errors: list[str]) -> str | None:
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


def _check_email(value: str | None, errors: list[str]) -> str | None:
    if value is None:
        return None
    if value.startswith(_FORMULA_STARTS):  # valid in a local part, but kept as written: refuse it
        errors.append(f"email: {_FORMULA_ERROR}")
        return None
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError:
        # The library's own message may quote parts of the address: never pass it on.
        errors.append("email: not a valid address")
        return None


def _check_blood_group(value: str | None, errors: list[str]) -> str | None:
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


def _check_consent(value: str | None, now: datetime, errors: list[str]) -> datetime | None:
    if value is None:
        errors.append("consent_at: required")
        return None
    consent_at = _parse_datetime(value)
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


def _check_hla(cells: Mapping[str, str | None], errors: list[str]) -> dict[str, str]:
    """Typings kept as written by the lab, each checked against WHO nomenclature for its column's locus
    (the lab's text is not personal data, so the error may quote it)."""
    hla: dict[str, str] = {}
    for column in HLA_COLUMNS:
        typing = _text(cells, column)
        if typing is None:
            continue
        if len(typing) > _MAX_TEXT:
            errors.append(f"{column}: HLA typing longer than {_MAX_TEXT} characters")
        elif any(ch.isspace() for ch in typing):
            errors.append(f"{column}: HLA typing contains spaces")
        else:
            try:
                parse_typing(typing, column.rsplit("_", 1)[0])
            except HlaError as exc:
                errors.append(f"{column}: {exc}")
                continue
            hla[column] = typing
    return hla


def _parse_date(value: str) -> date | None:
    """2021-05-01, 2021/5/1, 2021.5.1, 2021年5月1日, 20210501; a midnight time is allowed (from Excel)."""
    text = unicodedata.normalize("NFKC", value).strip()
    match = _DATE_RE.match(text)
    if match is None or text[match.end() :].strip() not in ("", "00:00", "00:00:00", "T00:00:00"):
        return None
    return _date_of(match)


def _parse_datetime(value: str) -> datetime | None:
    """A date with an optional time and UTC offset; without an offset it is Asia/Shanghai local time."""
    text = unicodedata.normalize("NFKC", value).strip()
    match = _DATE_RE.match(text)
    rest = _TIME_RE.fullmatch(text, match.end()) if match is not None else None
    day = _date_of(match) if match is not None else None
    if rest is None or day is None:
        return None
    hour, minute, second, zulu, sign, offset_hours, offset_minutes = rest.groups()
    zone: tzinfo = LOCAL_TZ
    if zulu:
        zone = UTC
    elif sign:
        offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
        if offset >= timedelta(hours=24):
            return None
        zone = timezone(-offset if sign == "-" else offset)
    try:
        clock = time(int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=zone).astimezone(LOCAL_TZ)


def _date_of(match: re.Match[str]) -> date | None:
    year, month, day = (int(part) for part in match.groups() if part is not None)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _local_date(moment: datetime | None) -> date | None:
    return moment.astimezone(LOCAL_TZ).date() if moment is not None else None


def _age_on(birth: date, on: date) -> int:
    """Completed years by calendar birthday; a 29 February birthday falls on 1 March in other years."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
