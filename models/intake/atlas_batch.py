"""Writing a batch of ATLAS updates: applied in file order to members in memory, then in a few statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, insert, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from models.core import StageEvent, audit_values, utcnow
from models.intake.atlas_records import AtlasUpdate
from models.intake.batches import ConcurrentChange
from models.intake.report import AcceptedRow
from models.intake.validation import RowRejection
from models.outreach import WITHDRAWN, cancel_pending_for_members
from models.registry import (
    HLA_COLUMNS,
    REGISTRY_MOVES,
    Donor,
    HlaTyping,
    RegistryStatus,
    erase_withdrawn,
    reserve_codes,
)

__all__ = ["AtlasBatchWriter"]


Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class _Refusal:
    """Why an update cannot apply to the member it names (SearchableDonorValidator's rules)."""

    reason: str


@dataclass
class _Member:
    """A member as this batch sees it: read from the database, or first met in this batch."""

    key: str
    donor_id: int | None  # None until inserted at the end of the batch
    code: str
    version: int
    status: RegistryStatus
    record_id: str | None
    hla: dict[str, str | None] | None  # the latest typing's columns
    new: bool = False
    changed: bool = False
    typings: list[dict[str, Any]] = field(default_factory=list)
    erase_typings: bool = False


class AtlasBatchWriter:
    """Applies a batch of updates in file order to members in memory, then writes them in a few statements."""

    def __init__(self, session: Session, prefix: str, actor: str) -> None:
        self.session = session
        self.prefix = prefix
        self.actor = actor
        self.now = utcnow()
        self.members: dict[str, _Member] = {}
        self.new: list[_Member] = []
        self.events: list[tuple[_Member, RegistryStatus | None, RegistryStatus, str]] = []

    def write(self, updates: Sequence[AtlasUpdate]) -> tuple[list[AcceptedRow], list[RowRejection]]:
        self._load({u.key for u in updates})
        done: list[tuple[AtlasUpdate, Action]] = []
        rejected: list[RowRejection] = []
        for update_ in updates:
            result = self._apply(update_)
            if isinstance(result, _Refusal):
                rejected.append(RowRejection(row=update_.row, errors=(result.reason,)))
            else:
                done.append((update_, result))
        self._flush()
        accepted = [AcceptedRow(row=u.row, code=self.members[u.key].code, action=a) for u, a in done]
        return accepted, rejected

    def _load(self, keys: set[str]) -> None:
        """The batch's known members and their latest typings, as plain rows (no ORM objects to build)."""
        wanted = ("id", "national_id_hash", "code", "version", "status", "external_id")
        found = sql_select(*(col(getattr(Donor, name)) for name in wanted)).where(
            col(Donor.national_id_hash).in_(keys)
        )
        for donor_id, key, code, version, status, record_id in self.session.execute(found):
            self.members[key] = _Member(key, donor_id, code, version, RegistryStatus(status), record_id, None)
        by_id = {m.donor_id: m for m in self.members.values()}
        if not by_id:
            return
        latest = (
            sql_select(func.max(HlaTyping.id))
            .where(col(HlaTyping.donor_id).in_(list(by_id)))
            .group_by(col(HlaTyping.donor_id))
        )
        columns = (col(getattr(HlaTyping, name)) for name in ("donor_id", *HLA_COLUMNS))
        typings = sql_select(*columns).where(col(HlaTyping.id).in_(latest))
        for donor_id, *values in self.session.execute(typings):
            by_id[donor_id].hla = dict(zip(HLA_COLUMNS, values, strict=True))

    # -- one update, in memory ---------------------------------------------------------------------------
    def _apply(self, u: AtlasUpdate) -> Action | _Refusal:
        member = self.members.get(u.key)
        if member is not None and member.status is RegistryStatus.DECEASED:
            return _Refusal(f"志愿者 {member.code} 已登记为已故 member is recorded as deceased")
        if u.change == "D":
            return self._withdraw(member)
        if member is None:
            if u.change == "U":
                return _Refusal("recordId is not a member here (changeType U only updates; N or NU create)")
            self._create(u)
            return "created"
        if member.status is RegistryStatus.WITHDRAWN:
            # As the sign-up import: an old file re-imported must not silently re-register a withdrawn member.
            who = f"member {member.code}" if member.code else "this member (earlier in this file)"
            return _Refusal(f"{who} was withdrawn; re-registration needs a new consent")
        if u.change == "N":
            return _Refusal("recordId is already a member (changeType N only creates; U or NU update)")
        assert u.hla is not None
        if u.hla == member.hla:
            return "unchanged"
        self._add_typing(member, u)
        return "updated"

    def _create(self, u: AtlasUpdate) -> None:
        assert u.hla is not None
        member = _Member(u.key, None, "", 1, RegistryStatus.REGISTERED, u.record_id, None, new=True)
        self.members[u.key] = member
        self.new.append(member)
        self.events.append((member, None, RegistryStatus.REGISTERED, "ATLAS donor import"))
        self._add_typing(member, u)

    def _add_typing(self, member: _Member, u: AtlasUpdate) -> None:
        """A changed typing is a new row (the earlier ones stay as history); it makes a registered member
        active, i.e. searchable (DESIGN.md §3)."""
        assert u.hla is not None
        member.hla = dict(u.hla)
        member.typings.append({**u.hla, "resolution": u.resolution, "created_at": self.now})
        if member.status is RegistryStatus.REGISTERED:
            self._move(member, RegistryStatus.ACTIVE, "HLA typing received")

    def _withdraw(self, member: _Member | None) -> Action | _Refusal:
        """changeType D: consent withdrawn, as registry.members.withdraw_donor: the member's identifying data
        (external id) and HLA typings are erased; the code, the key and the StageEvents stay."""
        if member is None:
            # ATLAS only notifies here ("attempted deletion of untracked donor"): a stray worth reporting.
            return _Refusal("recordId is not a member here: nothing to withdraw")
        if member.status is RegistryStatus.WITHDRAWN:
            return "unchanged"  # ATLAS: deleting a deleted donor is no error
        self._move(member, RegistryStatus.WITHDRAWN, "deleted in an ATLAS file (changeType D)")
        member.record_id = None
        member.hla = None
        member.typings.clear()
        member.erase_typings = member.donor_id is not None
        return "updated"

    def _move(self, member: _Member, to: RegistryStatus, reason: str) -> None:
        if to not in REGISTRY_MOVES[member.status]:  # every status this import meets allows its moves
            raise AssertionError(f"member {member.code} is {member.status.value}: cannot become {to.value}")
        self.events.append((member, member.status, to, reason))
        member.status = to
        member.changed = True

    # -- the writes ---------------------------------------------------------------------------------------
    def _flush(self) -> None:
        self._insert_new()
        for member in self.members.values():
            if member.changed and not member.new:
                self._update_existing(member)
        erase = [m.donor_id for m in self.members.values() if m.erase_typings and m.donor_id is not None]
        erase_withdrawn(session=self.session, donor_ids=erase, at=self.now)  # after the conditional moves
        # Nothing more is sent to them. No confirmation from here: the member withdrew at the registry
        # that sent the file, which confirms it, and an ATLAS record carries no address to confirm to.
        cancel_pending_for_members(session=self.session, donor_ids=erase, reason=WITHDRAWN)
        # Core executemany on the session's connection: the ORM bulk path groups rows by their non-null
        # keys, so alternating from_state None / set would send one INSERT per event.
        connection = self.session.connection()
        typings = [{**t, "donor_id": m.donor_id} for m in self.members.values() for t in m.typings]
        if typings:
            connection.execute(insert(HlaTyping), typings)
        if self.events:
            connection.execute(insert(StageEvent), [self._event(*event) for event in self.events])

    def _insert_new(self) -> None:
        if not self.new:
            return
        codes = reserve_codes(session=self.session, prefix=self.prefix, count=len(self.new))
        rows = []
        for member, code in zip(self.new, codes, strict=True):
            member.code = code
            withdrawn = member.status is RegistryStatus.WITHDRAWN
            rows.append(
                {
                    "code": code,
                    "national_id_hash": member.key,
                    "national_id_masked": "",  # no ID number: the member is known by the ATLAS recordId
                    "external_id": member.record_id,
                    "status": member.status.value,
                    "withdrawn_at": self.now if withdrawn else None,
                    "version": 1,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
        returning = insert(Donor).returning(col(Donor.id), col(Donor.national_id_hash))
        inserted = self.session.connection().execute(returning, rows).all()
        for donor_id, key in inserted:
            self.members[key].donor_id = donor_id

    def _update_existing(self, member: _Member) -> None:
        values: dict[str, Any] = {"status": member.status.value, "status_until": None}
        result = self.session.exec(
            update(Donor)
            .where(col(Donor.id) == member.donor_id, col(Donor.version) == member.version)
            .values(**values, updated_at=self.now, version=member.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentChange(f"member {member.code} was changed by someone else during the import")

    def _event(
        self, member: _Member, from_state: RegistryStatus | None, to: RegistryStatus, reason: str
    ) -> dict[str, Any]:
        assert member.donor_id is not None  # events are written after the batch's members are inserted
        return audit_values(
            entity="donor",
            donor_id=member.donor_id,
            from_state=from_state.value if from_state else None,
            to_state=to.value,
            at=self.now,
            recorded_at=self.now,
            actor=self.actor,
            reason=reason,
        )
