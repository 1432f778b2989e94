"""ATLAS donor import: Anthony Nolan's donor-update JSON files become registry members (DESIGN.md §2, §3).

The format is ATLAS's own, followed as its importer reads it (github.com/Anthony-Nolan/Atlas, read at
d2a6d8d: Schemas/DonorUpdateFileSchema.json, last changed in 14330e64, 2023-03; Atlas.DonorImport.FileSchema.
Models; Atlas.DonorImport/Services/DonorImportFileParser.cs, Validators/SearchableDonorValidator.cs,
Models/Mapping/ImportedLocusInterpreter.cs, Services/DonorRecordChangeApplier.cs):

    {"updateMode": "diff" | "full" | "check",
     "donors": [{"recordId": "7001", "changeType": "N" | "U" | "D" | "NU", "donorType": "D" | "C" | "B",
                 "donPool": "…", "ethn": "…",
                 "hla": {"a": {"dna": {"field1": "*02:01", "field2": "*24:02"}, "ser": {"field1": "2"}},
                         "b": {…}, "c": {…}, "drb1": {…}, "dqb1": {…}, "dpb1": {…}}}]}

ATLAS records carry no personal data: a member is known by its recordId alone, kept in `external_id` and,
salted and hashed as "atlas:<recordId>", in `national_id_hash`, whose unique constraint dedupes. donPool and
ethn have no column here and are not kept. Batches commit like the sign-up import: a crash loses at most the
batch in flight, and a rerun of the same file changes nothing (N rows are then reported as existing).

Where this differs from ATLAS, on purpose: a record ATLAS fails the whole file for (no recordId, changeType
or donorType) is one rejected row here; a D for an unknown recordId (ATLAS: a notification) is a rejected
row; a withdrawn member is not re-created by a later N/NU (re-registration needs a new consent, as for
sign-up sheets); a "NEW" allele (not yet named by WHO) cannot be graded and rejects the record.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, insert, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

import hla
from models.core import SHANGHAI, ConflictError, SheetError, StageEvent, utcnow
from models.intake.sheet_files import SheetLimits, open_regular_file
from models.intake.signup import AcceptedRow, ImportPolicy, ImportReport, national_id_hash
from models.intake.validation import RowRejection
from models.registry import (
    HLA_COLUMNS,
    REGISTRY_MOVES,
    Donor,
    HlaTyping,
    RegistryStatus,
    code_prefix,
    erase_withdrawn,
    reserve_codes,
)

__all__ = ["atlas_member_key", "import_atlas", "is_atlas_file"]

log = logging.getLogger(__name__)
Action = Literal["created", "updated", "unchanged"]
Change = Literal["N", "U", "D", "NU"]

# Schema codes, and the C# enum names Newtonsoft.Json also reads (ImportDonorChangeType, ImportDonorType).
_CHANGES: dict[str, Change] = {
    "n": "N",
    "u": "U",
    "d": "D",
    "nu": "NU",
    "create": "N",
    "edit": "U",
    "delete": "D",
    "upsert": "NU",
}
_DONOR_TYPES = {
    "d": "adult",
    "adult": "adult",
    "c": "cord",
    "cord": "cord",
    "b": "banked",
    "banked": "banked",
}
_FILE_KEYS = frozenset({"updateMode", "donors"})
# SearchableDonorValidator: A, B and DRB1 are required for every N, U and NU; C, DQB1, DPB1 are optional.
_REQUIRED_LOCI = ("A", "B", "DRB1")
# ATLAS writes serology as the bare antigen number ("2"); stored with its WHO prefix ("A2", "Cw3", "DR15").
_SEROLOGY_PREFIX = {"A": "A", "B": "B", "C": "Cw", "DRB1": "DR", "DQB1": "DQ", "DPB1": "DPw"}
_MAX_TEXT = 64  # Donor.external_id and the HlaTyping columns
_NEW_ALLELE = "NEW"  # ATLAS's placeholder for an allele not yet named by WHO


def atlas_member_key(record_id: str, salt: bytes) -> str:
    """The dedupe key of an ATLAS member: HMAC-SHA256 of "atlas:<recordId>", never clashing with ID hashes.

    national_id_hash upper-cases its input, so recordIds differing only in letter case are one member.
    """
    return national_id_hash(f"atlas:{record_id}", salt)


def is_atlas_file(path: Path) -> bool:
    """Whether `donors import` should hand this file to :func:`import_atlas` (by extension, like Excel)."""
    return path.suffix.lower() == ".json"


def import_atlas(
    *,
    session: Session,
    path: Path,
    policy: ImportPolicy,
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
    reference: hla.Reference | None = None,
) -> ImportReport:
    """Import one ATLAS donor-update file. Unusable files raise SheetError; bad donors are reported.

    `row` in the report is the donor's 1-based position in the file's donors array. A deletion (D)
    withdraws the member and is reported as "updated". `reference` (IMGT/HLA, MAC tables) is optional:
    without it a multiple allele code is checked for form only and kept as written.
    """
    mode, donors = _read_file(path, policy.limits)
    report = ImportReport()
    year = utcnow().astimezone(SHANGHAI).year
    for start in range(0, len(donors), policy.batch_size):
        chunk = donors[start : start + policy.batch_size]
        updates: list[_Update] = []
        for row, raw in enumerate(chunk, start=start + 1):
            parsed = _parse_donor(row, raw, policy.id_salt, reference)
            if isinstance(parsed, RowRejection):
                report.rejected.append(parsed)
            else:
                updates.append(parsed)
        _write_with_retry(session, updates, code_prefix(policy.registry_prefix, year), actor, report)
        if progress:
            progress(len(chunk))
    report.finish(f"{path.name} (ATLAS {mode})", unit="donor")
    return report


# -- the file ------------------------------------------------------------------------------------------------
def _read_file(path: Path, limits: SheetLimits) -> tuple[str, list[Any]]:
    """The update mode and the donors array; anything ATLAS would refuse as a file is a SheetError."""
    try:
        with open_regular_file(path, limits) as handle:  # never a FIFO or device; within the size limit
            raw = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise SheetError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    try:
        document = json.loads(raw)  # RFC 8259: UTF-8 (a BOM is tolerated), UTF-16 or UTF-32
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SheetError(f"{path.name} is not a JSON file: {exc}") from exc
    if not isinstance(document, dict):
        raise SheetError(f'{path.name}: an ATLAS donor file is a JSON object with a "donors" array')
    donors = document.get("donors")
    if not isinstance(donors, list) or not donors:
        raise SheetError(f'{path.name} has no "donors" array (an ATLAS donor import file needs one)')
    # DonorImportFileParser reads these two names exactly and refuses any other top-level property.
    unknown = sorted(str(key) for key in document if key not in _FILE_KEYS)
    if unknown:
        raise SheetError(
            f"{path.name}: unknown property {unknown[0]!r}; an ATLAS file has updateMode and donors"
        )
    mode = document.get("updateMode")
    mode = mode.strip().lower() if isinstance(mode, str) else mode
    if mode == "check":
        raise SheetError(f'{path.name} is an ATLAS donor check file (updateMode "check"): it imports nothing')
    if mode not in ("diff", "full"):
        raise SheetError(f'{path.name}: updateMode must be "diff" or "full", not {mode!r}')
    if mode == "full":
        _check_full_file(path, donors)
    return str(mode), donors


def _check_full_file(path: Path, donors: list[Any]) -> None:
    """DonorImportFileParser fails a whole "full" file (an initial load) on its first U or D record."""
    for row, raw in enumerate(donors, start=1):
        change = _CHANGES.get(_code(_field(raw, "changeType")) or "") if isinstance(raw, dict) else None
        if change in ("U", "D"):
            raise SheetError(f'{path.name}: donor {row} has changeType {change}; a "full" file only creates')


# -- one donor record ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Update:
    row: int
    record_id: str
    key: str
    change: Change
    hla: dict[str, str | None] | None  # HLA column -> typing as stored; None for a deletion
    resolution: str


def _parse_donor(row: int, raw: Any, salt: bytes, reference: hla.Reference | None) -> _Update | RowRejection:
    """Validate one record the way ATLAS does, but report it as a row instead of failing the file."""
    if not isinstance(raw, dict):
        return RowRejection(row=row, errors=("donor entry is not a JSON object",))
    errors: list[str] = []
    record_id = _record_id(_field(raw, "recordId"), errors)
    change_code = _code(_field(raw, "changeType"))
    change = _CHANGES.get(change_code or "")
    if change is None:
        errors.append(
            "changeType is missing (N, U, D or NU)"
            if change_code is None
            else f"changeType {_field(raw, 'changeType')!r} is not N, U, D or NU"
        )
    donor_type_code = _code(_field(raw, "donorType"))
    donor_type = _DONOR_TYPES.get(donor_type_code or "")
    if donor_type_code is None:
        errors.append("donorType is missing (D for an adult donor)")
    elif donor_type is None:
        errors.append(
            f"donorType {_field(raw, 'donorType')!r} is not D (adult), C (cord blood) or B (banked)"
        )
    elif donor_type == "cord":
        errors.append("cord blood units are not registry members here")
    elif donor_type == "banked":
        errors.append("banked donors are not registry members here (ATLAS does not support them either)")
    typing: tuple[dict[str, str | None], str] | None = None
    if change is not None and change != "D":  # ATLAS reads no HLA for a deletion
        typing = _parse_hla(_field(raw, "hla"), reference, errors)
    if errors or record_id is None or change is None:
        return RowRejection(row=row, errors=tuple(errors))
    columns, resolution = typing if typing is not None else (None, "low")
    return _Update(row, record_id, atlas_member_key(record_id, salt), change, columns, resolution)


def _record_id(value: Any, errors: list[str]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append("recordId is missing" if value is None else "recordId is not a string")
        return None
    text = str(value).strip()  # older ATLAS files carry integer ids; Newtonsoft reads them as strings
    if not text:
        errors.append("recordId is missing")
        return None
    if len(text) > _MAX_TEXT:
        errors.append(f"recordId is longer than {_MAX_TEXT} characters")
        return None
    return text


def _parse_hla(
    value: Any, reference: hla.Reference | None, errors: list[str]
) -> tuple[dict[str, str | None], str] | None:
    if value is None:
        errors.append("hla is missing (required unless changeType is D)")
        return None
    if not isinstance(value, dict):
        errors.append("hla is not a JSON object")
        return None
    columns: dict[str, str | None] = dict.fromkeys(HLA_COLUMNS)
    levels: list[str] = []
    for locus in hla.LOCI:  # the loci graded here; drb3/4/5, dqa1, dpa1 of older ATLAS files are ignored
        picked = _locus_fields(locus, _field(value, locus.lower()), errors)
        if picked is None:
            continue
        source, pair = picked
        for position, text in enumerate(pair, start=1):
            read = _check_typing(locus, source, position, text, reference, errors)
            if read is not None:
                columns[f"{locus.lower()}_{position}"], level = read
                levels.append(level)
    if not levels:
        return None
    return columns, _resolution(levels)


def _locus_fields(locus: str, value: Any, errors: list[str]) -> tuple[str, tuple[str, str]] | None:
    """ImportedLocusInterpreter: DNA wins when given, else serology; a blank field 2 means homozygous."""
    if value is not None and not isinstance(value, dict):
        errors.append(f"HLA {locus} is not a JSON object")
        return None
    data = value or {}
    dna = _two_fields(locus, "DNA", _field(data, "dna"), errors)
    serology = _two_fields(locus, "serology", _field(data, "ser"), errors)
    if dna is None or serology is None:
        return None
    source, (first, second) = ("DNA", dna) if any(dna) else ("serology", serology)
    if first is None and second is None:
        if locus in _REQUIRED_LOCI:
            errors.append(f"required locus {locus}: minimum HLA typing has not been provided")
        return None
    if first is None:
        errors.append(f"HLA {locus} {source}: field1 cannot be empty when field2 is provided")
        return None
    return source, (first, second or first)


def _two_fields(
    locus: str, source: str, value: Any, errors: list[str]
) -> tuple[str | None, str | None] | None:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        errors.append(f"HLA {locus} {source} is not a JSON object with field1 and field2")
        return None
    out: list[str | None] = []
    for name in ("field1", "field2"):
        text = _field(value, name)
        if isinstance(text, bool) or not (text is None or isinstance(text, str | int)):
            errors.append(f"HLA {locus} {source} {name} is not a string")
            return None
        out.append((str(text).strip() or None) if text is not None else None)
    return out[0], out[1]


def _typing_name(locus: str, source: str, text: str) -> str:
    """The typing with its locus, as the lab would write it: "*02:01" at A -> "A*02:01", "2" -> "A2"."""
    if source == "serology":
        return text if text[:1].isalpha() else f"{_SEROLOGY_PREFIX[locus]}{text}"
    if text.startswith("*"):
        return f"{locus}{text}"
    return text if "*" in text else f"{locus}*{text}"  # ATLAS prepends the '*'; a full name stays


def _check_typing(
    locus: str, source: str, position: int, text: str, reference: hla.Reference | None, errors: list[str]
) -> tuple[str, str] | None:
    """The typing as stored and its resolution level, or None after recording why it is not valid."""
    where = f"HLA {locus} {source} field{position}"
    if text.upper() == _NEW_ALLELE:
        errors.append(f'{where}: "{text}" (an allele not yet named by WHO) cannot be graded here')
        return None
    name = _typing_name(locus, source, text)
    if len(name) > _MAX_TEXT:
        errors.append(f'{where}: "{name[:24]}…" is longer than {_MAX_TEXT} characters')
        return None
    level, problem = _typing_level(name, locus, source == "serology", reference)
    if level is None:
        errors.append(f"{where}: {problem}")
        return None
    return name, level


@functools.lru_cache(maxsize=65536)  # a registry's file repeats the same few thousand typings
def _typing_level(
    name: str, locus: str, serology: bool, reference: hla.Reference | None
) -> tuple[str | None, str | None]:
    """(resolution level, None) for a valid typing, (None, why not) for a malformed one."""
    try:
        typing = hla.parse_typing(name, locus=locus, reference=reference)
    except hla.ReferenceRequiredError:
        # Well formed (e.g. the MAC "*01:DXGWF" of ATLAS's own examples); it expands once the tables are
        # loaded, as the HLA index does, so it is kept as written rather than losing the donor.
        return "intermediate", None
    except hla.TypingError as exc:
        return None, str(exc)
    if serology or typing.serological:
        return "low", None
    if typing.kind is hla.Kind.NULL:
        return ("intermediate" if "/" in typing.text else "high"), None
    if not typing.proteins:
        return "low", None  # allele group only: A*02, A*02:XX
    return ("high" if len(typing.proteins) == 1 and not typing.groups else "intermediate"), None


def _resolution(levels: Sequence[str]) -> str:
    """low | intermediate | high (DESIGN.md §2): high only when every typing is, low when every one is."""
    return levels[0] if len(set(levels)) == 1 else "intermediate"


def _field(mapping: Mapping[Any, Any], name: str) -> Any:
    """A property in any case, as Newtonsoft.Json (which ATLAS uses) matches them: "RecordId", "Dna"."""
    if name in mapping:
        return mapping[name]
    wanted = name.lower()
    return next((item for key, item in mapping.items() if str(key).lower() == wanted), None)


def _code(value: Any) -> str | None:
    return (value.strip().lower() or None) if isinstance(value, str) else None


# -- writing a batch -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Refusal:
    """Why an update cannot apply to the member it names (SearchableDonorValidator's rules)."""

    reason: str


class _StaleMember(Exception):
    """A member changed (by a coordinator or another import) between our read and our write."""


def _write_with_retry(
    session: Session,
    updates: Sequence[_Update],
    prefix: str,
    actor: str,
    report: ImportReport,
) -> None:
    # A concurrent import can win the unique key (or a new year's code counter) between our read and our
    # insert, or a coordinator can move a member: the retry reads afresh. Two tries, as the sign-up import.
    if not updates:
        return
    for attempt in (1, 2):
        try:
            writer = _BatchWriter(session, prefix, actor)
            accepted, rejected = writer.write(updates)
            session.commit()
        except (IntegrityError, _StaleMember) as exc:
            session.rollback()
            if attempt == 2:
                if isinstance(exc, _StaleMember):
                    raise ConflictError(f"{exc}; run the import again") from exc
                raise
            continue
        report.accepted.extend(accepted)
        report.rejected.extend(rejected)
        log.debug("ATLAS batch of %d donors committed", len(updates))
        return


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


class _BatchWriter:
    """Applies a batch of updates in file order to members in memory, then writes them in a few statements."""

    def __init__(self, session: Session, prefix: str, actor: str) -> None:
        self.session = session
        self.prefix = prefix
        self.actor = actor
        self.now = utcnow()
        self.members: dict[str, _Member] = {}
        self.new: list[_Member] = []
        self.events: list[tuple[_Member, RegistryStatus | None, RegistryStatus, str]] = []

    def write(self, updates: Sequence[_Update]) -> tuple[list[AcceptedRow], list[RowRejection]]:
        self._load({u.key for u in updates})
        done: list[tuple[_Update, Action]] = []
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
    def _apply(self, u: _Update) -> Action | _Refusal:
        member = self.members.get(u.key)
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

    def _create(self, u: _Update) -> None:
        assert u.hla is not None
        member = _Member(u.key, None, "", 1, RegistryStatus.REGISTERED, u.record_id, None, new=True)
        self.members[u.key] = member
        self.new.append(member)
        self.events.append((member, None, RegistryStatus.REGISTERED, "ATLAS donor import"))
        self._add_typing(member, u)

    def _add_typing(self, member: _Member, u: _Update) -> None:
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
            raise _StaleMember(f"member {member.code} was changed by someone else during the import")

    def _event(
        self, member: _Member, from_state: RegistryStatus | None, to: RegistryStatus, reason: str
    ) -> dict[str, Any]:
        return {
            "entity": "donor",
            "donor_id": member.donor_id,
            "case_id": None,
            "from_state": from_state.value if from_state else None,
            "to_state": to.value,
            "at": self.now,
            "recorded_at": self.now,
            "actor": self.actor,
            "reason": reason,
            "flow_run_id": None,
        }
