"""Validating one sign-up row: text cells → a `SignupRecord`, or a `RowRejection` listing every broken rule.

Pure and fast (no I/O, no database). Error messages name the column and the rule and never carry the
personal value, so a rejection can be logged, shown and exported as is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from models.core import mask_email, mask_name, mask_national_id, mask_phone
from models.intake.cells import (
    FORMULA_ERROR,
    FORMULA_STARTS,
    MAX_TEXT,
    check_birth_date,
    check_blood_group,
    check_characters,
    check_consent,
    check_email,
    check_hla,
    check_name,
    check_national_id,
    check_phone,
    check_sex,
    stripped_cell,
)
from models.intake.sheet_dates import LOCAL_TZ

__all__ = ["RowRejection", "SignupRecord", "validate_row"]


_SEX_WORDS = {"M": "male", "F": "female"}


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
    unsafe = check_characters(cells, errors)
    if unsafe:  # those cells are judged on their characters alone: the other rules might quote them
        cells = {column: value for column, value in cells.items() if column not in unsafe}
    text = functools.partial(stripped_cell, cells)

    name = check_name(text("name"), errors)
    sex = check_sex(text("sex"), errors)
    national_id, id_birth = check_national_id(text("national_id"), now.astimezone(LOCAL_TZ).date(), errors)
    birth_date = check_birth_date(text("birth_date"), id_birth, errors)
    phone = check_phone(text("phone"), errors)
    email = check_email(text("email"), errors)
    blood_group = check_blood_group(text("blood_group"), errors)
    consent_at = check_consent(text("consent_at"), now, errors)
    hla = check_hla(cells, errors)
    external_id = text("external_id")
    if external_id is not None and len(external_id) > MAX_TEXT:
        errors.append(f"external_id: longer than {MAX_TEXT} characters")
    elif external_id is not None and external_id.startswith(FORMULA_STARTS):
        errors.append(f"external_id: {FORMULA_ERROR}")

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


def _local_date(moment: datetime | None) -> date | None:
    return moment.astimezone(LOCAL_TZ).date() if moment is not None else None


def _age_on(birth: date, on: date) -> int:
    """Completed years by calendar birthday; a 29 February birthday falls on 1 March in other years."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
