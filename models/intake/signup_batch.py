"""Writing one batch of sign-ups: read the members it already has, insert the new, update the changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from models.core import StageEvent, audit_values, local_date, mask_national_id, utcnow
from models.intake.batches import ConcurrentChange
from models.intake.policy import ImportPolicy, national_id_hash
from models.intake.report import AcceptedRow, Action
from models.intake.signup_members import (
    KNOWN_COLUMNS,
    MUTABLE_FIELDS,
    KnownMember,
    NewMember,
    changed_fields,
    typing_resolution,
)
from models.intake.validation import RowRejection, SignupRecord
from models.outreach import KIND_MESSAGE, Outbox
from models.registry import (
    HLA_COLUMNS,
    Donor,
    HlaTyping,
    RecruitmentEvent,
    RegistryStatus,
    code_prefix,
    reserve_codes,
    sheet_header,
)

__all__ = ["SignupBatchWriter", "SignupOutcome"]


@dataclass(frozen=True)
class SignupOutcome:
    accepted: list[AcceptedRow] = field(default_factory=list)
    rejected: list[RowRejection] = field(default_factory=list)


class SignupBatchWriter:
    """Writes one batch: reads the members it already has, inserts the new, updates the changed.

    Every UPDATE of a known member is conditional on the version and status this batch read, and runs
    as one executemany per shape of row (SQLAlchemy Core on the session's connection, so no ORM
    synchronisation); a row count short of the rows sent means someone else moved first: the whole
    batch rolls back and is read again (models.intake.batches.run_in_batches).
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
        self.welcomes: list[dict[str, Any]] = []  # outbox rows: the registration welcome of each new member

    def write(self, batch: Sequence[SignupRecord]) -> SignupOutcome:
        outcome = SignupOutcome()
        keys = [national_id_hash(r.national_id, self.policy.id_salt) for r in batch]
        existing = self._read_known(set(keys))
        new: dict[str, NewMember] = {}
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
                new[key] = NewMember(record, self._member_values(record, key))
                actions.append((record, key, "created"))
        self._write_known(existing.values())
        codes = self._insert_new(new)
        self._flush_writes()
        for record, key, action in actions:
            code = codes[key] if key in codes else existing[key].code
            outcome.accepted.append(AcceptedRow(row=record.row, code=code, action=action))
        return outcome

    def _read_known(self, keys: set[str]) -> dict[str, KnownMember]:
        columns = [col(getattr(Donor, name)) for name in KNOWN_COLUMNS]
        known: dict[str, KnownMember] = {}
        for row in self.session.execute(sql_select(*columns).where(col(Donor.national_id_hash).in_(keys))):
            values = dict(zip(KNOWN_COLUMNS, row, strict=True))
            known[values["national_id_hash"]] = KnownMember(
                donor_id=values["id"],
                code=values["code"],
                version=values["version"],
                status=RegistryStatus(values["status"]),
                withdrawn_at=values["withdrawn_at"],
                current={k: values[k] for k in MUTABLE_FIELDS},
                language=values["language"],
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
                cells = zip(HLA_COLUMNS, typing, strict=True)
                by_id[donor_id].hla = {sheet_header(column): value for column, value in cells if value}
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

    def _insert_new(self, new: dict[str, NewMember]) -> dict[str, str]:
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
            insert(Donor).returning(col(Donor.id), col(Donor.national_id_hash), col(Donor.language)), rows
        ).all()
        ids = {key: donor_id for donor_id, key, _language in inserted}
        for donor_id, key, language in inserted:
            self._welcome(donor_id, codes[key], language, f"member:{donor_id}:welcome")
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
    def _update_existing(self, member: KnownMember, record: SignupRecord) -> Action | RowRejection:
        if member.status_now is RegistryStatus.DECEASED:
            # An old sheet re-imported must neither revive nor re-contact a member reported deceased.
            return RowRejection(
                row=record.row, errors=(f"志愿者 {member.code} 已登记为已故 member is recorded as deceased",)
            )
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
            member.current.update({k: values[k] for k in MUTABLE_FIELDS})
            member.values.update({k: values[k] for k in (*MUTABLE_FIELDS, *rejoin)})
            member.values.update(withdrawn_at=None, status_until=None)
            self._event(
                member.donor_id, member.status_now, RegistryStatus.REGISTERED, record.consent_at, "re-joined"
            )
            member.new_status = RegistryStatus.REGISTERED
            # A re-join is a registration: a new consent signed at a drive, after the old one was withdrawn
            # and the contact details erased. Welcomed like any new member, keyed by the new consent (the
            # first registration's welcome keeps its own key).
            rejoined = f"member:{member.donor_id}:welcome:{record.consent_at:%Y%m%dT%H%M%S}"
            self._welcome(member.donor_id, member.code, member.language, rejoined)
            if record.hla:
                self._type_known(member, record)
            return "updated"
        changed = changed_fields(member.current, record)
        member.current.update(changed)
        member.values.update(changed)
        typed = bool(record.hla) and record.hla != member.hla
        if typed:
            self._type_known(member, record)
        return "updated" if changed or typed else "unchanged"

    def _type_known(self, member: KnownMember, record: SignupRecord) -> None:
        member.hla = dict(record.hla)
        self._add_typing(member.donor_id, record.hla, record, member.status_now)
        if member.status_now is RegistryStatus.REGISTERED:
            member.new_status = RegistryStatus.ACTIVE

    def _write_known(self, members: Iterable[KnownMember]) -> None:
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
                raise ConcurrentChange(f"{len(rows) - written} member(s) changed by someone else meanwhile")

    # -- the welcome -----------------------------------------------------------------------------------
    def _welcome(self, donor_id: int, code: str, language: str, key: str) -> None:
        """The registration welcome (issue 10, item 7), queued with the member: written in the batch's
        transaction, so a batch rolled back and read again welcomes no one twice. On the member's
        preferred channel (channel None), sms unless they chose otherwise. Context: the code only."""
        self.welcomes.append(
            {
                "kind": KIND_MESSAGE,
                "channel": None,
                "recipient_ref": f"donor:{donor_id}",
                "template_key": "registration_welcome",
                "language": language,
                "context": {"code": code},
                "idempotency_key": key,
                "urgent": False,
                "status": "pending",
                "next_attempt_at": self.now,
                "created_at": self.now,
            }
        )

    # -- typings and audit -----------------------------------------------------------------------------
    def _add_typing(
        self, donor_id: int, hla: dict[str, str], record: SignupRecord, status: RegistryStatus
    ) -> None:
        """Store the sheet's HLA typing; a registered member with a typing becomes active (searchable)."""
        values = {column: hla.get(sheet_header(column)) for column in HLA_COLUMNS}
        self.typings[donor_id] = {
            "donor_id": donor_id,
            "resolution": typing_resolution(values),
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
            audit_values(
                entity="donor",
                donor_id=donor_id,
                from_state=from_state.value if from_state else None,
                to_state=to.value,
                at=at,
                recorded_at=self.now,
                actor=self.actor,
                reason=reason,
            )
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
        if self.welcomes:  # one INSERT for the batch, like the members (a 2,000-row batch stays fast)
            connection.execute(insert(Outbox), self.welcomes)
