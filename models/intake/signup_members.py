"""Members as a sign-up batch sees them: known (as read) or new, and what a sheet row changes of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.intake.report import Action
from models.intake.validation import SignupRecord
from models.registry import RegistryStatus

__all__ = [
    "KNOWN_COLUMNS",
    "MUTABLE_FIELDS",
    "KnownMember",
    "NewMember",
    "changed_fields",
    "typing_resolution",
]


# Member fields a later sign-up row may change; identity (ID hash, sex, birth date) never changes.
MUTABLE_FIELDS = ("name", "phone", "email", "blood_group", "external_id")
# What the batch reads of a known member: the guard of its conditional UPDATE (version, status) and the
# fields a sheet row is compared with. Plain rows, not ORM objects: nothing for the session to synchronise.
KNOWN_COLUMNS = (
    "id",
    "national_id_hash",
    "code",
    "version",
    "status",
    "withdrawn_at",
    "language",
    *MUTABLE_FIELDS,
)


@dataclass
class KnownMember:
    """A member as this batch read it, and what the batch will write to it."""

    donor_id: int
    code: str
    version: int
    status: RegistryStatus  # as read: the UPDATE only applies if it is still so
    withdrawn_at: datetime | None
    current: dict[str, Any]  # the mutable fields, as read and then as changed by earlier rows
    language: str = "zh-CN"  # what the member is written to in (a re-joined member's welcome)
    hla: dict[str, str] = field(default_factory=dict)  # the latest typing, as a sheet row writes it
    new_status: RegistryStatus | None = None
    values: dict[str, Any] = field(default_factory=dict)  # columns to write

    @property
    def status_now(self) -> RegistryStatus:
        return self.new_status or self.status


@dataclass
class NewMember:
    """A person first seen in this batch; later rows for the same person merge into it."""

    record: SignupRecord
    values: dict[str, Any]
    hla: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hla = dict(self.record.hla)

    def merge(self, record: SignupRecord) -> Action:
        changed = changed_fields(self.values, record)
        self.values.update(changed)
        hla_changed = bool(record.hla) and record.hla != self.hla
        if hla_changed:
            self.hla = dict(record.hla)
        return "updated" if changed or hla_changed else "unchanged"


def changed_fields(current: dict[str, Any], record: SignupRecord) -> dict[str, Any]:
    return {k: getattr(record, k) for k in MUTABLE_FIELDS if getattr(record, k) != current.get(k)}


def typing_resolution(values: dict[str, str | None]) -> str:
    typed = [v for v in values.values() if v]
    if typed and all(v.count(":") >= 1 and "/" not in v and "XX" not in v.upper() for v in typed):
        return "high"
    return "low" if all(":" not in v for v in typed) else "intermediate"
