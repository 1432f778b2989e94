"""Sign-up import: validate every row, dedupe on the salted ID hash, upsert members in batches.

Each batch is one transaction, so a crash (even kill -9) loses at most the batch in flight, and a rerun
finds the committed members by their ID hash: nothing is created twice, nothing is lost.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from models.core import ConflictError, NotFoundError, StageEvent, local_date, mask_national_id, utcnow
from models.intake.sheet import read_sheet
from models.intake.sheet_files import DEFAULT_LIMITS, SheetLimits
from models.intake.validation import RowRejection, SignupRecord, validate_row
from models.registry import (
    HLA_COLUMNS,
    Donor,
    HlaTyping,
    RecruitmentEvent,
    RegistryStatus,
    code_prefix,
    reserve_codes,
)

__all__ = [
    "AcceptedRow",
    "ImportPolicy",
    "ImportReport",
    "import_records",
    "import_signups",
    "national_id_hash",
]

log = logging.getLogger(__name__)
Action = Literal["created", "updated", "unchanged"]
Progress = Callable[[int], None]

# Member fields a later sign-up row may change; identity (ID hash, sex, birth date) never changes.
_MUTABLE = ("name", "phone", "email", "blood_group", "external_id")


@dataclass(frozen=True)
class ImportPolicy:
    id_salt: bytes
    registry_prefix: str = "ZZ"
    min_age: int = 18  # CMDP joining ages
    max_age: int = 45
    batch_size: int = 2000
    limits: SheetLimits = DEFAULT_LIMITS  # how much of a file the reader takes on


@dataclass(frozen=True)
class AcceptedRow:
    row: int
    code: str
    action: Action


@dataclass
class ImportReport:
    accepted: list[AcceptedRow] = field(default_factory=list)
    rejected: list[RowRejection] = field(default_factory=list)
    # The sheet's own cells, kept in memory only, so rejected rows can be written back for fixing.
    columns: list[str] = field(default_factory=list)
    cells: dict[int, Mapping[str, str | None]] = field(default_factory=dict, repr=False)

    def rejected_rows(self) -> Iterator[tuple[int, Mapping[str, str | None], tuple[str, ...]]]:
        for rejection in self.rejected:
            yield rejection.row, self.cells.get(rejection.row, {}), rejection.errors

    def finish(self, source: str, unit: str = "row") -> None:
        """Order the report by row and log it: row numbers and rule names only, never personal values."""
        self.accepted.sort(key=lambda a: a.row)
        self.rejected.sort(key=lambda r: r.row)
        for rejection in self.rejected:
            log.warning("%s %s %d rejected: %s", source, unit, rejection.row, "; ".join(rejection.errors))
        log.info(
            "%s imported: %d created, %d updated, %d unchanged, %d rejected",
            source,
            self.count("created"),
            self.count("updated"),
            self.count("unchanged"),
            len(self.rejected),
        )

    def count(self, action: Action) -> int:
        return sum(1 for row in self.accepted if row.action == action)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "accepted": [{"row": a.row, "code": a.code, "action": a.action} for a in self.accepted],
            "rejected": [{"row": r.row, "errors": list(r.errors)} for r in self.rejected],
        }


def national_id_hash(national_id: str, salt: bytes) -> str:
    """HMAC-SHA256 of the normalised ID number: stable for dedupe, useless without the salt."""
    return hmac.new(salt, national_id.strip().upper().encode(), hashlib.sha256).hexdigest()


def import_signups(
    *,
    session: Session,
    path: Path,
    policy: ImportPolicy,
    event_id: int | None = None,
    actor: str = "import",
    progress: Progress | None = None,
) -> ImportReport:
    """Import one drive's sheet. Unusable files raise SheetError; bad rows are reported, good rows land."""
    sheet = read_sheet(path, policy.limits)
    event = session.get(RecruitmentEvent, event_id) if event_id is not None else None
    if event_id is not None and event is None:
        raise NotFoundError(f"recruitment event {event_id} does not exist")
    drive_date = event.held_on if event else None
    report = ImportReport(columns=list(sheet.columns))
    now = utcnow()  # one "now" for the whole file, so every row is judged alike

    def records() -> Iterator[SignupRecord]:
        for row, cells in sheet:
            report.cells[row] = cells
            result = validate_row(
                row, cells, drive_date=drive_date, min_age=policy.min_age, max_age=policy.max_age, now=now
            )
            if isinstance(result, RowRejection):
                report.rejected.append(result)
                if progress:
                    progress(1)
            else:
                yield result

    import_records(
        session=session,
        records=records(),
        policy=policy,
        event=event,
        actor=actor,
        report=report,
        progress=progress,
    )
    report.finish(path.name)
    return report


def import_records(
    *,
    session: Session,
    records: Iterable[SignupRecord],
    policy: ImportPolicy,
    event: RecruitmentEvent | None = None,
    actor: str = "import",
    report: ImportReport | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    report = report if report is not None else ImportReport()
    iterator = iter(records)
    while batch := list(islice(iterator, policy.batch_size)):
        _import_batch_with_retry(session, batch, policy, event, actor, report)
        if progress:
            progress(len(batch))
    return report


_ATTEMPTS = 3


def _import_batch_with_retry(
    session: Session,
    batch: Sequence[SignupRecord],
    policy: ImportPolicy,
    event: RecruitmentEvent | None,
    actor: str,
    report: ImportReport,
) -> None:
    # Between our read and our write, a concurrent import can win the unique ID hash, or a coordinator can
    # withdraw (or defer) a member: the conditional UPDATEs then miss and the batch rolls back. The retry
    # reads afresh and judges those rows again: a member who withdrew meanwhile is a rejected row, never
    # re-registered by an UPDATE written from the old read.
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            outcome = _BatchWriter(session, policy, event, actor).write(batch)
            session.commit()
        except (IntegrityError, _StaleMembers) as exc:
            session.rollback()
            if attempt < _ATTEMPTS:
                # Never the IntegrityError's text: it carries the rows' values.
                why = str(exc) if isinstance(exc, _StaleMembers) else "another import added the same person"
                log.info("batch of %d rows: %s; reading it again", len(batch), why)
                continue
            if isinstance(exc, _StaleMembers):
                first, last = batch[0].row, batch[-1].row
                raise ConflictError(
                    f"rows {first}–{last}: {exc} on every try; the rows before them are imported, "
                    "run the import again for the rest"
                ) from exc
            raise
        report.accepted.extend(outcome.accepted)
        report.rejected.extend(outcome.rejected)
        log.debug("batch of %d rows committed", len(batch))
        return


class _StaleMembers(Exception):
    """Members changed by someone else between the batch's read and its conditional write."""


@dataclass(frozen=True)
class _Outcome:
    accepted: list[AcceptedRow] = field(default_factory=list)
    rejected: list[RowRejection] = field(default_factory=list)


# What the batch reads of a known member: the guard of its conditional UPDATE (version, status) and the
# fields a sheet row is compared with. Plain rows, not ORM objects: nothing for the session to synchronise.
_KNOWN_COLUMNS = ("id", "national_id_hash", "code", "version", "status", "withdrawn_at", *_MUTABLE)


@dataclass
class _Known:
    """A member as this batch read it, and what the batch will write to it."""

    donor_id: int
    code: str
    version: int
    status: RegistryStatus  # as read: the UPDATE only applies if it is still so
    withdrawn_at: datetime | None
    current: dict[str, Any]  # the _MUTABLE fields, as read and then as changed by earlier rows
    hla: dict[str, str] = field(default_factory=dict)  # the latest typing, as a sheet row writes it
    new_status: RegistryStatus | None = None
    values: dict[str, Any] = field(default_factory=dict)  # columns to write

    @property
    def status_now(self) -> RegistryStatus:
        return self.new_status or self.status


class _BatchWriter:
    """Writes one batch: reads the members it already has, inserts the new, updates the changed.

    Every UPDATE of a known member is conditional on the version and status this batch read, and runs
    as one executemany per shape of row (SQLAlchemy Core on the session's connection, so no ORM
    synchronisation); a row count short of the rows sent means someone else moved first: the whole
    batch rolls back and is read again (_import_batch_with_retry).
    """

    def __init__(
        self, session: Session, policy: ImportPolicy, event: RecruitmentEvent | None, actor: str
    ) -> None:
        self.session = session
        self.policy = policy
        self.event = event
        self.actor = actor
        self.now = utcnow()
        self.events: list[dict[str, Any]] = []
        self.typings: dict[int, dict[str, Any]] = {}  # donor id -> the typing row to insert
        self.activate: set[int] = set()  # members inserted by this batch who have a typing

    def write(self, batch: Sequence[SignupRecord]) -> _Outcome:
        outcome = _Outcome()
        keys = [national_id_hash(r.national_id, self.policy.id_salt) for r in batch]
        existing = self._read_known(set(keys))
        new: dict[str, _NewMember] = {}
        actions: list[tuple[SignupRecord, str, Action]] = []
        for record, key in zip(batch, keys, strict=True):
            if key in new:  # the same person twice in one batch: the later row updates the first
                actions.append((record, key, new[key].merge(record)))
            elif key in existing:
                result = self._update_existing(existing[key], record)
                if isinstance(result, RowRejection):
                    outcome.rejected.append(result)
                else:
                    actions.append((record, key, result))
            else:
                new[key] = _NewMember(record, self._member_values(record, key))
                actions.append((record, key, "created"))
        self._write_known(existing.values())
        codes = self._insert_new(new)
        self._flush_writes()
        for record, key, action in actions:
            code = codes[key] if key in codes else existing[key].code
            outcome.accepted.append(AcceptedRow(row=record.row, code=code, action=action))
        return outcome

    def _read_known(self, keys: set[str]) -> dict[str, _Known]:
        columns = [col(getattr(Donor, name)) for name in _KNOWN_COLUMNS]
        known: dict[str, _Known] = {}
        for row in self.session.execute(sql_select(*columns).where(col(Donor.national_id_hash).in_(keys))):
            values = dict(zip(_KNOWN_COLUMNS, row, strict=True))
            known[values["national_id_hash"]] = _Known(
                donor_id=values["id"],
                code=values["code"],
                version=values["version"],
                status=RegistryStatus(values["status"]),
                withdrawn_at=values["withdrawn_at"],
                current={k: values[k] for k in _MUTABLE},
            )
        by_id = {member.donor_id: member for member in known.values()}
        if by_id:
            latest = (
                sql_select(func.max(HlaTyping.id))
                .where(col(HlaTyping.donor_id).in_(list(by_id)))
                .group_by(col(HlaTyping.donor_id))
            )
            typed = [col(getattr(HlaTyping, name)) for name in ("donor_id", *HLA_COLUMNS)]
            for donor_id, *typing in self.session.execute(
                sql_select(*typed).where(col(HlaTyping.id).in_(latest))
            ):
                by_id[donor_id].hla = {
                    column.upper(): value for column, value in zip(HLA_COLUMNS, typing, strict=True) if value
                }
        return known

    # -- new members -----------------------------------------------------------------------------------
    def _member_values(self, record: SignupRecord, key: str) -> dict[str, Any]:
        return {
            "name": record.name,
            "sex": record.sex,
            "birth_date": record.birth_date,
            "phone": record.phone,
            "email": record.email,
            "national_id_hash": key,
            "national_id_masked": mask_national_id(record.national_id),
            "blood_group": record.blood_group,
            "external_id": record.external_id,
            "consent_at": record.consent_at,
            "event_id": self.event.id if self.event else None,
            "district": self.event.district if self.event else None,
            "status": RegistryStatus.REGISTERED.value,
            "version": 1,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _insert_new(self, new: dict[str, _NewMember]) -> dict[str, str]:
        if not new:
            return {}
        by_prefix: dict[str, list[str]] = {}
        for key, member in new.items():
            by_prefix.setdefault(self._code_prefix(member.record), []).append(key)
        codes: dict[str, str] = {}
        for prefix, prefix_keys in by_prefix.items():
            reserved = reserve_codes(session=self.session, prefix=prefix, count=len(prefix_keys))
            codes.update(zip(prefix_keys, reserved, strict=True))
        rows = [{**member.values, "code": codes[key]} for key, member in new.items()]
        inserted = self.session.execute(
            insert(Donor).returning(col(Donor.id), col(Donor.national_id_hash)), rows
        ).all()
        ids = {key: donor_id for donor_id, key in inserted}
        for key, member in new.items():
            donor_id = ids[key]
            self._event(donor_id, None, RegistryStatus.REGISTERED, member.record.consent_at, "sign-up sheet")
            if member.hla:
                self._add_typing(donor_id, member.hla, member.record, RegistryStatus.REGISTERED)
                self.activate.add(donor_id)
        return codes

    def _code_prefix(self, record: SignupRecord) -> str:
        when = self.event.held_on if self.event else local_date(record.consent_at)
        return code_prefix(self.policy.registry_prefix, when.year)

    # -- existing members ------------------------------------------------------------------------------
    def _update_existing(self, member: _Known, record: SignupRecord) -> Action | RowRejection:
        if member.status_now is RegistryStatus.WITHDRAWN:
            # The one way back after a withdrawal (DESIGN.md §3): a sign-up whose consent is newer.
            if member.withdrawn_at and record.consent_at <= member.withdrawn_at:
                return RowRejection(
                    row=record.row,
                    errors=(
                        f"member {member.code} withdrew consent after this sign-up; "
                        "re-registration needs a new consent",
                    ),
                )
            values = self._member_values(record, "")
            rejoin = ("birth_date", "consent_at", "national_id_masked")  # the mask was erased too
            member.current.update({k: values[k] for k in _MUTABLE})
            member.values.update({k: values[k] for k in (*_MUTABLE, *rejoin)})
            member.values.update(withdrawn_at=None, status_until=None)
            self._event(
                member.donor_id, member.status_now, RegistryStatus.REGISTERED, record.consent_at, "re-joined"
            )
            member.new_status = RegistryStatus.REGISTERED
            if record.hla:
                self._type_known(member, record)
            return "updated"
        changed = _changed_fields(member.current, record)
        member.current.update(changed)
        member.values.update(changed)
        typed = bool(record.hla) and record.hla != member.hla
        if typed:
            self._type_known(member, record)
        return "updated" if changed or typed else "unchanged"

    def _type_known(self, member: _Known, record: SignupRecord) -> None:
        member.hla = dict(record.hla)
        self._add_typing(member.donor_id, record.hla, record, member.status_now)
        if member.status_now is RegistryStatus.REGISTERED:
            member.new_status = RegistryStatus.ACTIVE

    def _write_known(self, members: Iterable[_Known]) -> None:
        """One conditional executemany per shape of row; a short row count is a concurrent change."""
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for member in members:
            values = dict(member.values)
            if member.new_status is not None:
                values["status"] = member.new_status.value
            if not values:
                continue
            params = {f"set_{k}": v for k, v in values.items()}
            params.update(b_id=member.donor_id, b_version=member.version, b_status=member.status.value)
            shapes.setdefault(tuple(sorted(values)), []).append(params)
        table = Donor.__table__  # type: ignore[attr-defined]
        connection = self.session.connection()
        for shape, rows in shapes.items():
            statement = (
                update(table)
                .where(
                    table.c.id == bindparam("b_id"),
                    table.c.version == bindparam("b_version"),
                    table.c.status == bindparam("b_status"),
                )
                .values({**{k: bindparam(f"set_{k}") for k in shape}, "version": table.c.version + 1})
                .values(updated_at=self.now)
            )
            if connection.dialect.supports_sane_multi_rowcount:
                written = connection.execute(statement, rows).rowcount
            else:
                written = sum(connection.execute(statement, row).rowcount for row in rows)
            if written != len(rows):
                raise _StaleMembers(f"{len(rows) - written} member(s) changed by someone else meanwhile")

    # -- typings and audit -----------------------------------------------------------------------------
    def _add_typing(
        self, donor_id: int, hla: dict[str, str], record: SignupRecord, status: RegistryStatus
    ) -> None:
        """Store the sheet's HLA typing; a registered member with a typing becomes active (searchable)."""
        values = {column: hla.get(column.upper()) for column in HLA_COLUMNS}
        self.typings[donor_id] = {
            "donor_id": donor_id,
            "resolution": _resolution(values),
            "created_at": self.now,
            "sampled_on": local_date(record.consent_at),
            **values,
        }
        if status is RegistryStatus.REGISTERED:
            self._event(
                donor_id,
                RegistryStatus.REGISTERED,
                RegistryStatus.ACTIVE,
                record.consent_at,
                "HLA typing received",
            )

    def _event(
        self, donor_id: int, from_state: RegistryStatus | None, to: RegistryStatus, at: datetime, reason: str
    ) -> None:
        self.events.append(
            {
                "entity": "donor",
                "donor_id": donor_id,
                "case_id": None,
                "from_state": from_state.value if from_state else None,
                "to_state": to.value,
                "at": at,
                "recorded_at": self.now,
                "actor": self.actor,
                "reason": reason,
                "flow_run_id": None,
            }
        )

    def _flush_writes(self) -> None:
        # On the connection, not the ORM session: no identity map to synchronise, and the ORM's bulk path
        # splits rows whose keys differ in which are None (from_state of a first event) into one INSERT each.
        connection = self.session.connection()
        if self.activate:  # members this batch inserted, with a typing: one UPDATE for all of them
            connection.execute(
                update(Donor)
                .where(col(Donor.id).in_(sorted(self.activate)))
                .values(
                    status=RegistryStatus.ACTIVE.value, updated_at=self.now, version=col(Donor.version) + 1
                )
            )
        if self.typings:
            connection.execute(insert(HlaTyping), list(self.typings.values()))
        if self.events:
            connection.execute(insert(StageEvent), self.events)


@dataclass
class _NewMember:
    """A person first seen in this batch; later rows for the same person merge into it."""

    record: SignupRecord
    values: dict[str, Any]
    hla: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hla = dict(self.record.hla)

    def merge(self, record: SignupRecord) -> Action:
        changed = _changed_fields(self.values, record)
        self.values.update(changed)
        hla_changed = bool(record.hla) and record.hla != self.hla
        if hla_changed:
            self.hla = dict(record.hla)
        return "updated" if changed or hla_changed else "unchanged"


def _changed_fields(current: dict[str, Any], record: SignupRecord) -> dict[str, Any]:
    return {k: getattr(record, k) for k in _MUTABLE if getattr(record, k) != current.get(k)}


def _resolution(values: dict[str, str | None]) -> str:
    typed = [v for v in values.values() if v]
    if typed and all(v.count(":") >= 1 and "/" not in v and "XX" not in v.upper() for v in typed):
        return "high"
    return "low" if all(":" not in v for v in typed) else "intermediate"
