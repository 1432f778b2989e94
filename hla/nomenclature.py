"""WHO HLA nomenclature: read one typing (one of the two at a locus) into a :class:`Typing`.

A typing is a set of candidates for the one allele a person carries at that position:
``A*02:01`` has one, ``A*02:01/02:06``, its abbreviated form ``A*02:01/06`` and ``A*02:AB`` have
several, ``A*02``, ``A*02:XX`` and the serological ``A2`` name only an allele group. Candidates are kept
as protein names (first two fields, or the P group when the IMGT P table is loaded), allele groups and
antigens, which is all grading needs (WHO nomenclature: fields 3 and 4 are synonymous and non-coding
differences, same protein).

Antigens (WMDA matching framework: antigen level is serological): a candidate whose allele has
serology in rel_dna_ser is keyed ``s:<antigen>`` (``B*15:01`` -> ``s:62``, ``B*15:02`` -> ``s:75``);
one without (no tables, an allele group, ``?`` in rel_dna_ser) falls back to its first field,
``g:<group>``. ``antigen_cover`` holds what each candidate is antigen-compatible with: its antigen's
broads, splits and associated antigens (rel_ser_ser) and its own ``g:`` group, so that two typings are
antigen-matched when either one's antigens meet the other's cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, get_args

from hla.errors import ReferenceRequiredError, TypingError, UnknownAlleleError
from hla.reference import Reference

__all__ = ["LOCI", "NO_REFERENCE", "Kind", "Locus", "Typing", "canonical_locus", "parse_typing", "untyped"]

Locus = Literal["A", "B", "C", "DRB1", "DQB1", "DPB1"]
"""A locus graded here: the one list of loci (typing columns, sheet headers, forms, flows derive theirs)."""

LOCI: tuple[str, ...] = get_args(Locus)
"""The loci graded, in WMDA order."""

NO_REFERENCE = Reference()
"""No tables loaded: syntax-only reading, two-field and allele-group rules."""

# WHO nomenclature: N null, L low, S secreted, C cytoplasm, A aberrant, Q questionable expression.
_SUFFIXES = "NLSCAQ"
_LOCUS_NAMES = {"A": "A", "B": "B", "C": "C", "CW": "C", "DRB1": "DRB1", "DQB1": "DQB1", "DPB1": "DPB1"}
# Serological names (WHO 2010 report): Cw for C, DR/DQ/DP for the beta-chain loci graded here.
_SEROLOGY = re.compile(r"^(A|B|CW|C|DR|DQ|DPW|DP)(\d{1,4})$")
_SEROLOGY_LOCI = {
    "A": "A",
    "B": "B",
    "CW": "C",
    "C": "C",
    "DR": "DRB1",
    "DQ": "DQB1",
    "DP": "DPB1",
    "DPW": "DPB1",
}
_SEROLOGY_PREFIX = {"A": "A", "B": "B", "C": "Cw", "DRB1": "DR", "DQB1": "DQ", "DPB1": "DPw"}
_MAC = re.compile(r"^[A-Z]{2,5}$")
_SUBTYPE = re.compile(r"^\d{2,3}[NLSCAQ]?$")  # the second field alone, after a first name with two fields


class Kind(StrEnum):
    """What a typing says is expressed at its position."""

    EXPRESSED = "expressed"
    NULL = "null"  # WHO suffix N: no protein at the cell surface
    UNTYPED = "untyped"  # the locus was not typed: consistent with anything, confirms nothing


@dataclass(frozen=True, slots=True)
class Typing:
    """One typing at one locus position. Equality is what grading sees; ``text`` is for people."""

    locus: str
    kind: Kind
    proteins: frozenset[str] = frozenset()
    """Candidates known to protein level: two-field names (``02:01``) or P groups (``02:01P``)."""
    groups: frozenset[str] = frozenset()
    """Candidates known only to allele group (``A*02``, ``A*02:XX``, serology without tables)."""
    allele_groups: frozenset[str] = frozenset()
    """The allele group of every candidate, for antigen-level grading."""
    text: str = field(default="", compare=False)
    """The normalised WHO name, e.g. ``A*02:01/A*02:06``."""
    serological: bool = False
    """Read from a serological antigen: never confirms an allele, whatever the tables list."""
    antigens: frozenset[str] = frozenset()
    """Antigen keys of the candidates: ``s:62`` (assigned serology) or ``g:15`` (first field)."""
    antigen_cover: frozenset[str] = frozenset()
    """Antigen keys the candidates are compatible with (relatives by rel_ser_ser, own ``g:`` group)."""
    associated: frozenset[str] = field(default=frozenset(), compare=False)
    """``s:`` keys linked to a candidate's antigen as associated antigens (B39 <-> B3901): names the rule."""
    possibly_null: bool = False
    """An allele string or code that also lists a null allele (graded on its expressed alleles)."""
    tce: int = 0
    """DPB1 T-cell-epitope group (1 most immunogenic .. 3) shared by every expressed candidate, from the
    IPD-IMGT/HLA TCE file; 0 when unknown, mixed or not DPB1 (issue 13 item 6)."""
    allele: str = ""
    """The fields of the one allele an unambiguous molecular typing names (``02:01:01:01``), else empty:
    the WMDA match level (gDNA, cDNA, protein) and ATLAS's definite confidence need it (issue 13 item 5)."""
    confirmed: bool = field(default=False, init=False, compare=False)
    """Exactly one protein, typed by DNA, so an equal one is a definite allele match."""
    serology_keys: frozenset[str] = field(default=frozenset(), init=False, compare=False)
    """The ``s:`` antigens among ``antigens`` (empty: antigen level by the first field only)."""

    def __post_init__(self) -> None:
        confirmed = (
            self.kind is Kind.EXPRESSED
            and len(self.proteins) == 1
            and not self.groups
            and not self.serological
        )
        object.__setattr__(self, "confirmed", confirmed)
        object.__setattr__(self, "serology_keys", frozenset(k for k in self.antigens if k.startswith("s:")))

    def __str__(self) -> str:
        return self.text


def untyped(locus: str) -> Typing:
    """The typing of a locus the lab did not type."""
    return Typing(locus, Kind.UNTYPED, text=f"{locus}*untyped")


@dataclass(frozen=True, slots=True)
class _Candidate:
    group: str
    protein: str | None  # None: only the allele group is known
    null: bool
    text: str
    serological: bool = False
    serology: frozenset[str] = frozenset()  # antigens rel_dna_ser assigns to the allele


def _antigen_keys(
    locus: str, chosen: list[_Candidate], ref: Reference
) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    antigens: set[str] = set()
    cover: set[str] = set()
    associated: set[str] = set()
    for candidate in chosen:
        group = f"g:{candidate.group}"
        cover.add(group)
        if not candidate.serology:
            antigens.add(group)
            continue
        for antigen in candidate.serology:
            antigens.add(f"s:{antigen}")
            cover.update(f"s:{relative}" for relative in ref.relatives(locus, antigen))
            associated.update(
                f"s:{linked}"
                for linked in ref.relatives(locus, antigen)
                if ref.is_associated(locus, antigen, linked)
            )
    return frozenset(antigens), frozenset(cover), frozenset(associated)


def parse_typing(text: str, locus: str | None = None, reference: Reference | None = None) -> Typing:
    """Read one WHO-named typing; ``locus`` names the column when the text does not (``02:01``).

    Raises :class:`hla.TypingError` (or a subclass) naming the locus and the text.
    """
    ref = reference if reference is not None else NO_REFERENCE
    column = _locus_name(locus, text, locus) if locus is not None else None
    cache_key = (text, column)
    cached = ref.cache.get(cache_key)
    if isinstance(cached, Typing):
        return cached
    typing = _parse(text, column, ref)
    ref.cache[cache_key] = typing
    return typing


def canonical_locus(name: str) -> str:
    """``"HLA-A"``, ``"a"`` -> ``"A"``, ``"Cw"`` -> ``"C"``; an unknown locus is a :class:`TypingError`."""
    return _locus_name(name, name, None)


def _locus_name(name: str, text: str, column: str | None) -> str:
    locus = _LOCUS_NAMES.get(name.upper().removeprefix("HLA-"))
    if locus is None:
        raise TypingError(text, column, f"unknown locus {name!r}; expected one of {', '.join(LOCI)}")
    return locus


def _parse(text: str, column: str | None, ref: Reference) -> Typing:
    body = text.strip()
    if not body:
        raise TypingError(text, column, "empty typing")
    if any(sep in body for sep in "^+|~"):
        raise TypingError(text, column, "one typing expected; use parse_genotype for a GL string")
    locus = column
    candidates: list[_Candidate] = []
    parts = body.split("/")
    first_field: str | None = None
    for number, raw in enumerate(parts):
        part = raw.strip()
        if number and first_field is not None and _SUBTYPE.match(part.upper()):
            # An allele string of subtypes (WHO/NMDP abbreviation, ATLAS AlleleStringOfSubtypes):
            # A*01:01/03 is A*01:01/A*01:03, A*01:01/02N is A*01:01/A*01:02N, not "or the A*03 group".
            part = f"{first_field}:{part}"
        part_locus, found = _parse_part(part, locus, text, ref)
        if number == 0:
            first_field = _leading_field(part)
        locus = part_locus
        candidates.extend(found)
    assert locus is not None
    expressed = [c for c in candidates if not c.null]
    # Ambiguity, MAC and XX expansions ignore null candidates (WMDA matching framework, ATLAS):
    # the typing is null only when every candidate is; possibly_null keeps the dropped null visible.
    kind = Kind.EXPRESSED if expressed else Kind.NULL
    chosen = expressed or candidates
    names = list(dict.fromkeys(c.text for c in candidates))
    single = candidates[0] if len(candidates) == 1 else None
    allele = (
        single.text.split("*", 1)[1].rstrip(_SUFFIXES)
        if single is not None and (single.protein is not None or single.null) and not single.serological
        else ""
    )
    antigens, cover, associated = _antigen_keys(locus, chosen, ref) if expressed else (frozenset(),) * 3
    tce_groups = {ref.tce.get(_protein_name(c.text), 0) for c in expressed} if ref.tce else {0}
    return Typing(
        locus=locus,
        kind=kind,
        proteins=frozenset(c.protein for c in chosen if c.protein is not None) if expressed else frozenset(),
        groups=frozenset(c.group for c in chosen if c.protein is None) if expressed else frozenset(),
        allele_groups=frozenset(c.group for c in chosen) if expressed else frozenset(),
        text="/".join(names),
        serological=any(c.serological for c in chosen) if expressed else False,
        antigens=antigens,
        antigen_cover=cover,
        associated=associated,
        possibly_null=bool(expressed) and len(expressed) < len(candidates),
        allele=allele,
        tce=tce_groups.pop() if locus == "DPB1" and len(tce_groups) == 1 else 0,
    )


def _protein_name(text: str) -> str:
    """``DPB1*04:01:01:02`` -> ``04:01``: the key of the TCE table."""
    return ":".join(text.split("*", 1)[-1].rstrip(_SUFFIXES).split(":")[:2])


def _leading_field(part: str) -> str | None:
    """The first field of a molecular name with at least two fields (``A*01:01`` -> ``A*01``)."""
    body = part.strip()
    if ":" not in body:
        return None
    head = body.split(":", 1)[0]
    return head if head.rsplit("*", 1)[-1].isdigit() else None


def _parse_part(part: str, locus: str | None, text: str, ref: Reference) -> tuple[str, list[_Candidate]]:
    if not part:
        raise TypingError(text, locus, "empty alternative in a '/' ambiguity")
    upper = part.upper().removeprefix("HLA-")
    if "*" in upper:
        name, rest = upper.split("*", 1)
        named = _locus_name(name, text, locus)
        if locus is not None and named != locus:
            raise TypingError(text, locus, f"names locus {named}, expected {locus}")
        return named, _molecular(rest, named, text, ref)
    serology = _SEROLOGY.match(upper)
    if serology:
        named = _SEROLOGY_LOCI[serology.group(1)]
        if named == "DRB1" and serology.group(2) in ("51", "52", "53"):
            raise TypingError(text, locus, f"{part} is a DRB5/DRB3/DRB4 antigen; DRB1 is graded here")
        if locus is not None and named != locus:
            raise TypingError(text, locus, f"serological {part} is not an antigen of {locus}")
        return named, _serology(serology.group(2), named, text, ref)
    if upper[:1].isdigit():
        if locus is None:
            raise TypingError(text, None, "no locus: write it (A*02:01) or give the column")
        return locus, _molecular(upper, locus, text, ref)
    raise TypingError(text, locus, "not a WHO allele name (A*02:01), serology (A2) or code (A*02:AB)")


def _molecular(rest: str, locus: str, text: str, ref: Reference) -> list[_Candidate]:
    if ":" not in rest and ref.old_names and len(rest.rstrip(_SUFFIXES)) >= 4:
        # A name from before the April 2010 colons (Nomenclature_2009.txt): A*0201 is A*02:01.
        table = ref.old_names.get(locus, {})
        digits = rest.rstrip(_SUFFIXES)
        suffix = rest[len(digits) :]
        new = table.get(rest) or (table[digits] + suffix if digits in table else None)
        if new is not None:
            rest = new
    if ref.history and not ref.known(locus, tuple(rest.rstrip(_SUFFIXES).split(":"))):
        renamed = ref.current_name(locus, rest)
        if renamed is not None:
            new, reason = renamed
            if not new:
                raise UnknownAlleleError(
                    text,
                    locus,
                    f"{locus}*{rest} was deleted from IPD-IMGT/HLA ({reason or 'no reason given'})",
                )
            rest = new  # renamed (hla_nom.txt): read as the current name
    fields = rest.split(":")
    if len(fields) > 4:
        raise TypingError(text, locus, "more than 4 fields")
    last = fields[-1]
    if len(fields) == 2 and last == "XX":  # allele-group code (NMDP): any allele of the group
        return [_group(fields[0], locus, text, ref)]
    if len(fields) == 2 and _MAC.match(last) and not last[:-1].isdigit():
        return _mac(fields[0], last, locus, text, ref)
    suffix = ""
    if last[-1:] in ("G", "P") and last[:-1].isdigit():
        return _named_group(fields, last[-1], locus, text, ref)
    if last[-1:] in _SUFFIXES and last[:-1].isdigit():
        suffix, fields = last[-1], [*fields[:-1], last[:-1]]
    for number, value in enumerate(fields, start=1):
        if not value:
            raise TypingError(text, locus, f"field {number} is empty")
        if not value.isdigit():
            raise TypingError(text, locus, f"field {number} is not a number")
        if len(value) < 2:
            raise TypingError(text, locus, f"field {number} needs at least 2 digits")
        if len(value) > 4:  # WHO fields have 2–4 digits (A*02:1040); a pre-2010 name is read above
            raise TypingError(text, locus, f"field {number} has more than 4 digits")
    if len(fields) == 1:
        if suffix:
            raise TypingError(text, locus, "an expression suffix needs at least two fields")
        return [_group(fields[0], locus, text, ref)]
    return [_allele(tuple(fields), suffix, locus, text, ref)]


def _group(group: str, locus: str, text: str, ref: Reference) -> _Candidate:
    if not group.isdigit() or len(group) < 2:
        raise TypingError(text, locus, "field 1 is not a number of at least 2 digits")
    if not ref.known(locus, (group,)):
        raise UnknownAlleleError(text, locus, f"allele group {locus}*{group} is not in Allelelist.txt")
    return _Candidate(group, None, False, f"{locus}*{group}")


def _allele(fields: tuple[str, ...], suffix: str, locus: str, text: str, ref: Reference) -> _Candidate:
    if not ref.known(locus, fields):
        raise UnknownAlleleError(text, locus, f"{locus}*{':'.join(fields)} is not in Allelelist.txt")
    null = suffix == "N" or (not suffix and ref.only_nulls(locus, fields))
    return _Candidate(
        fields[0],
        ref.protein_key(locus, fields),
        null,
        f"{locus}*{':'.join(fields)}{suffix}",
        serology=ref.antigens_of(locus, fields),
    )


def _expand(names: tuple[str, ...], locus: str, text: str, ref: Reference, what: str) -> list[_Candidate]:
    found: list[_Candidate] = []
    for name in names:
        fields = tuple(name.rstrip(_SUFFIXES).split(":"))
        if ref.known(locus, fields):  # a code may list alleles this IMGT release does not have
            found.append(_allele(fields, name[-1] if name[-1] in _SUFFIXES else "", locus, text, ref))
    if not found:
        raise UnknownAlleleError(text, locus, f"{what} names no allele in Allelelist.txt")
    return found


def _mac(group: str, code: str, locus: str, text: str, ref: Reference) -> list[_Candidate]:
    _group(group, locus, text, NO_REFERENCE)
    if not ref.mac:
        raise ReferenceRequiredError(
            text,
            locus,
            f"multiple allele code {code} needs an NMDP MAC table "
            "(numer.v3.txt or mac.txt in the reference directory)",
        )
    subtypes = ref.mac.get(code)
    if subtypes is None:
        raise UnknownAlleleError(text, locus, f"multiple allele code {code} is not in the MAC table")
    # NMDP: a generic code lists second fields for the typed group; an allele-specific one full names.
    names = tuple(s if ":" in s else f"{group}:{s}" for s in subtypes)
    return _expand(names, locus, text, ref, f"code {code}")


def _named_group(fields: list[str], kind: str, locus: str, text: str, ref: Reference) -> list[_Candidate]:
    name = ":".join(fields)
    table = (ref.p_groups if kind == "P" else ref.g_groups).get(locus)
    if table is None:
        source = "hla_nom_p.txt" if kind == "P" else "hla_nom_g.txt"
        raise ReferenceRequiredError(text, locus, f"{kind} group {locus}*{name} needs the IMGT {source}")
    members = table.get(name)
    if members is None:
        raise UnknownAlleleError(text, locus, f"{kind} group {locus}*{name} is not in the IMGT table")
    return _expand(members, locus, text, ref, f"{kind} group {name}")


def _serology(antigen: str, locus: str, text: str, ref: Reference) -> list[_Candidate]:
    label = f"{_SEROLOGY_PREFIX[locus]}{int(antigen)}"
    if not ref.has_serology:
        # No tables: compare by allele group; A2 -> A*02, 3/4-digit antigens (A203, B3901) keep
        # their leading group digits (WMDA serological naming of allele-defined antigens).
        number = str(int(antigen))
        group = number.zfill(2) if len(number) <= 2 else number[:-2].zfill(2)
        return [_Candidate(group, None, False, label)]
    covered = ref.antigens_covered(locus, str(int(antigen)))
    typed = frozenset({str(int(antigen))})
    table = ref.serology.get(locus, {})
    alleles = sorted({a for ag in covered for a in table.get(ag, frozenset())})
    if not alleles:
        raise UnknownAlleleError(text, locus, f"antigen {label} has no allele in rel_dna_ser.txt")
    return [
        _Candidate(
            a.split(":")[0],
            ref.protein_key(locus, tuple(a.rstrip(_SUFFIXES).split(":"))),
            False,
            label,
            serological=True,
            # Typed at antigen level: the antigen is the one the lab reported (B62), whatever else the
            # tables list for each candidate allele (B*15:08 is B75, B62 only by expert assignment).
            serology=typed,
        )
        for a in alleles
    ]
