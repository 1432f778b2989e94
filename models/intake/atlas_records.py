"""One ATLAS donor record: recordId, change and donor type, its HLA as typing columns; or a rejection."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import hla
from models.intake.policy import national_id_hash
from models.intake.validation import RowRejection
from models.registry import HLA_COLUMNS, column_name

__all__ = [
    "CHANGE_CODES",
    "AtlasUpdate",
    "Change",
    "atlas_member_key",
    "json_field",
    "lower_code",
    "parse_donor",
]


Change = Literal["N", "U", "D", "NU"]
# Schema codes, and the C# enum names Newtonsoft.Json also reads (ImportDonorChangeType, ImportDonorType).
CHANGE_CODES: dict[str, Change] = {
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


@dataclass(frozen=True)
class AtlasUpdate:
    row: int
    record_id: str
    key: str
    change: Change
    hla: dict[str, str | None] | None  # HLA column -> typing as stored; None for a deletion
    resolution: str


def parse_donor(
    row: int, raw: Any, salt: bytes, reference: hla.Reference | None
) -> AtlasUpdate | RowRejection:
    """Validate one record the way ATLAS does, but report it as a row instead of failing the file."""
    if not isinstance(raw, dict):
        return RowRejection(row=row, errors=("donor entry is not a JSON object",))
    errors: list[str] = []
    record_id = _record_id(json_field(raw, "recordId"), errors)
    change_code = lower_code(json_field(raw, "changeType"))
    change = CHANGE_CODES.get(change_code or "")
    if change is None:
        errors.append(
            "changeType is missing (N, U, D or NU)"
            if change_code is None
            else f"changeType {json_field(raw, 'changeType')!r} is not N, U, D or NU"
        )
    donor_type_code = lower_code(json_field(raw, "donorType"))
    donor_type = _DONOR_TYPES.get(donor_type_code or "")
    if donor_type_code is None:
        errors.append("donorType is missing (D for an adult donor)")
    elif donor_type is None:
        errors.append(
            f"donorType {json_field(raw, 'donorType')!r} is not D (adult), C (cord blood) or B (banked)"
        )
    elif donor_type == "cord":
        errors.append("cord blood units are not registry members here")
    elif donor_type == "banked":
        errors.append("banked donors are not registry members here (ATLAS does not support them either)")
    typing: tuple[dict[str, str | None], str] | None = None
    if change is not None and change != "D":  # ATLAS reads no HLA for a deletion
        typing = _parse_hla(json_field(raw, "hla"), reference, errors)
    if errors or record_id is None or change is None:
        return RowRejection(row=row, errors=tuple(errors))
    columns, resolution = typing if typing is not None else (None, "low")
    return AtlasUpdate(row, record_id, atlas_member_key(record_id, salt), change, columns, resolution)


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
        picked = _locus_fields(locus, json_field(value, locus.lower()), errors)
        if picked is None:
            continue
        source, pair = picked
        for position, text in enumerate(pair, start=1):
            read = _check_typing(locus, source, position, text, reference, errors)
            if read is not None:
                columns[column_name(locus, position)], level = read
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
    dna = _two_fields(locus, "DNA", json_field(data, "dna"), errors)
    serology = _two_fields(locus, "serology", json_field(data, "ser"), errors)
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
        text = json_field(value, name)
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


def json_field(mapping: Mapping[Any, Any], name: str) -> Any:
    """A property in any case, as Newtonsoft.Json (which ATLAS uses) matches them: "RecordId", "Dna"."""
    if name in mapping:
        return mapping[name]
    wanted = name.lower()
    return next((item for key, item in mapping.items() if str(key).lower() == wanted), None)


def lower_code(value: Any) -> str | None:
    return (value.strip().lower() or None) if isinstance(value, str) else None
