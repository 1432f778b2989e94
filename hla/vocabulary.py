"""Per-locus dictionaries behind :class:`hla.HlaIndex`: distinct typings, distinct donor pairs, and
the vectorised twin of :func:`hla.grading.grade_typing` over them.

A registry repeats a few thousand typings per locus, so members are stored as small ids: each member
holds at each locus the id of its (unordered) pair of typings. A query grades the patient once against
every distinct typing (numpy over a CSR of candidates), then every distinct pair, and the scan only
gathers one byte per member and locus.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hla.grading import GRADES, Grade, expressed_pair, pairing_table
from hla.nomenclature import Kind, Typing, untyped

__all__ = ["DEAD", "LocusVocabulary", "PACKED_OF_CODE", "PairTables", "pair_code_grades"]

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

_RANK = {g: g.rank for g in GRADES}
_ALLELE, _POTENTIAL, _ANTIGEN, _MISMATCH = (
    Grade.ALLELE.rank,
    Grade.POTENTIAL.rank,
    Grade.ANTIGEN.rank,
    Grade.MISMATCH.rank,
)


def _pairing_lookup() -> U8:
    """best_pairing over all 256 grade combinations, as ``code = rank(p1) * 4 + rank(p2)``."""
    table = np.zeros(256, dtype=np.uint8)
    for (a, b, c, d), (x, y) in pairing_table().items():
        table[((a.rank * 4 + b.rank) * 4 + c.rank) * 4 + d.rank] = x.rank * 4 + y.rank
    return table


def _packed_lookup() -> U8:
    """A locus pair code -> ``16 * mismatches + potentials``: summed over <= 6 loci it stays < 256 and
    orders donors exactly as (mismatches, certainty, potentials) do."""
    table = np.zeros(16, dtype=np.uint8)
    for code in range(16):
        grades = (code // 4, code % 4)
        table[code] = 16 * sum(g >= _ANTIGEN for g in grades) + sum(g == _POTENTIAL for g in grades)
    return table


PAIRING = _pairing_lookup()
PACKED_OF_CODE = _packed_lookup()
DEAD = 40
"""Packed value of a removed member's pair: 40 per locus exceeds any live total (<= 32 per locus)."""


class PairTables(NamedTuple):
    packed: U8
    """Per pair: 16 * mismatches + potentials."""
    code: U8
    """Per pair: rank(grade at patient position 1) * 4 + rank(grade at position 2)."""
    first: U8
    """Per typing: the grade rank of the patient's first typing (after the null rule) against it."""
    second: U8
    """Per typing: the same for the patient's second typing."""


def pair_code_grades(code: int) -> tuple[Grade, Grade]:
    return GRADES[code // 4], GRADES[code % 4]


class _Growable:
    """An int64 list that hands out numpy views cheaply."""

    def __init__(self) -> None:
        self.data = np.zeros(64, dtype=np.int64)
        self.size = 0

    def append(self, value: int) -> None:
        if self.size == len(self.data):
            self.data = np.concatenate([self.data, np.zeros(len(self.data), dtype=np.int64)])
        self.data[self.size] = value
        self.size += 1

    def view(self) -> I64:
        return self.data[: self.size]


class LocusVocabulary:
    """Distinct typings and distinct typing pairs seen at one locus. Typing 0 is ``untyped``,
    pair 0 marks a removed member."""

    def __init__(self, locus: str) -> None:
        self.locus = locus
        self.typings: list[Typing] = []
        self._typing_ids: dict[Typing, int] = {}
        self._protein_ids: dict[str, int] = {}
        self._group_ids: dict[str, int] = {}
        self._antigen_ids: dict[str, int] = {}
        # CSR rows (entry, value id) for the candidate sets of each typing.
        self._rows: dict[str, tuple[_Growable, _Growable]] = {
            name: (_Growable(), _Growable())
            for name in ("proteins", "groups", "allele_groups", "antigens", "antigen_cover")
        }
        self._confirmed = _Growable()  # protein id of a confirmed typing, else 0
        self._kind = _Growable()
        self._tce = _Growable()  # DPB1 TCE group of a typing (0: unknown)
        self.pair_first = _Growable()
        self.pair_second = _Growable()
        self.pair_count = _Growable()
        self._pair_ids: dict[tuple[int, int], int] = {}
        self._expressed: tuple[I64, I64] | None = None
        self.typing_id(untyped(locus))
        self._new_pair(0, 0)  # pair 0: removed member (not registered: untyped+untyped is pair 1)
        del self._pair_ids[(0, 0)]

    # -- building -----------------------------------------------------------------------------
    def typing_id(self, typing: Typing) -> int:
        found = self._typing_ids.get(typing)
        if found is not None:
            return found
        entry = len(self.typings)
        self.typings.append(typing)
        self._typing_ids[typing] = entry
        for name, values, ids in (
            ("proteins", typing.proteins, self._protein_ids),
            ("groups", typing.groups, self._group_ids),
            ("allele_groups", typing.allele_groups, self._group_ids),
            ("antigens", typing.antigens, self._antigen_ids),
            ("antigen_cover", typing.antigen_cover, self._antigen_ids),
        ):
            owners, targets = self._rows[name]
            for value in sorted(values):
                owners.append(entry)
                targets.append(ids.setdefault(value, len(ids) + 1))
        confirmed = self._protein_ids[next(iter(typing.proteins))] if typing.confirmed else 0
        self._confirmed.append(confirmed)
        self._kind.append(list(Kind).index(typing.kind))
        self._tce.append(typing.tce)
        return entry

    def _new_pair(self, first: int, second: int) -> int:
        pair = self.pair_first.size
        self.pair_first.append(first)
        self.pair_second.append(second)
        self.pair_count.append(0)
        self._pair_ids[(first, second)] = pair
        return pair

    def pair_id(self, first: Typing, second: Typing) -> int:
        """The id of a member's pair, unordered (grading does not see order). Nulls are kept, so a hit can
        say where one is; :meth:`pair_tables` applies the null rule."""
        ids = sorted((self.typing_id(first), self.typing_id(second)))
        found = self._pair_ids.get((ids[0], ids[1]))
        return found if found is not None else self._new_pair(ids[0], ids[1])

    def pair_ids_from_typing_ids(self, first: I64, second: I64) -> I64:
        """Vectorised :meth:`pair_id` for ids of typings already in this vocabulary."""
        low, high = np.minimum(first, second), np.maximum(first, second)
        width = len(self.typings)
        combined = low * width + high
        distinct, inverse = np.unique(combined, return_inverse=True)
        ids = np.empty(len(distinct), dtype=np.int64)
        for k, value in enumerate(distinct.tolist()):
            pair = (value // width, value % width)
            found = self._pair_ids.get(pair)
            ids[k] = found if found is not None else self._new_pair(*pair)
        result: I64 = ids[inverse.reshape(-1)]
        return result

    def count(self, pairs: I64, delta: int) -> None:
        np.add.at(self.pair_count.data, pairs, delta)

    @property
    def n_pairs(self) -> int:
        return self.pair_first.size

    # -- querying -------------------------------------------------------------------------------
    def grades_against(self, patient: Typing) -> U8:
        """:func:`grade_typing` of ``patient`` against every typing here, as grade ranks."""
        n = len(self.typings)
        kinds = self._kind.view()
        if patient.kind is Kind.UNTYPED:
            return np.full(n, _POTENTIAL, dtype=np.uint8)
        null_kind, untyped_kind = list(Kind).index(Kind.NULL), list(Kind).index(Kind.UNTYPED)
        if patient.kind is Kind.NULL:
            out = np.where(kinds == null_kind, _ALLELE, _MISMATCH).astype(np.uint8)
            out[kinds == untyped_kind] = _POTENTIAL
            return out
        p_proteins = self._mask(patient.proteins, self._protein_ids)
        p_groups = self._mask(patient.groups, self._group_ids)
        p_all = self._mask(patient.allele_groups, self._group_ids)
        consistent = (
            self._any("proteins", p_proteins)
            | self._any("allele_groups", p_groups)
            | self._any("groups", p_all)
        )
        # Antigen level: the patient's antigens meet a donor's cover, or a donor's antigens the patient's.
        same_antigen = self._any(
            "antigen_cover", self._mask(patient.antigens, self._antigen_ids)
        ) | self._any("antigens", self._mask(patient.antigen_cover, self._antigen_ids))
        out = np.full(n, _MISMATCH, dtype=np.uint8)
        out[same_antigen] = _ANTIGEN
        out[consistent] = _POTENTIAL
        if patient.confirmed:
            protein = self._protein_ids.get(next(iter(patient.proteins)), -1)
            out[self._confirmed.view() == protein] = _ALLELE
        out[kinds == null_kind] = _MISMATCH
        out[kinds == untyped_kind] = _POTENTIAL
        return out

    @staticmethod
    def _mask(values: frozenset[str], ids: dict[str, int]) -> npt.NDArray[np.bool_]:
        mask = np.zeros(len(ids) + 1, dtype=bool)
        for value in values:
            found = ids.get(value)
            if found is not None:  # a value no donor has matches nothing
                mask[found] = True
        return mask

    def _any(self, name: str, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        owners, targets = self._rows[name]
        hits = owners.view()[mask[targets.view()]]
        flags = np.zeros(len(self.typings), dtype=bool)
        flags[hits] = True
        return flags

    def _expressed_pairs(self) -> tuple[I64, I64]:
        """Every stored pair after the WMDA/ATLAS null rule (a null next to an expressed typing is
        absent), computed again only when pairs were added."""
        size = self.pair_first.size
        if self._expressed is None or len(self._expressed[0]) != size:
            first, second = self.pair_first.view(), self.pair_second.view()
            kinds = self._kind.view()
            null = list(Kind).index(Kind.NULL)
            first_null, second_null = kinds[first] == null, kinds[second] == null
            self._expressed = (
                np.where(first_null & ~second_null, second, first),
                np.where(second_null & ~first_null, first, second),
            )
        return self._expressed

    def pair_tables(self, p1: Typing, p2: Typing) -> PairTables:
        """For every pair here: packed 16*mismatches+potentials and code rank(p1)*4+rank(p2); with the
        patient's grades against every typing, which a hit's details reuse."""
        p1, p2 = expressed_pair(p1, p2)
        g1, g2 = self.grades_against(p1), self.grades_against(p2)
        a, b = self._expressed_pairs()
        index = ((g1[a].astype(np.intp) * 4 + g2[b]) * 4 + g1[b]) * 4 + g2[a]
        code = PAIRING[index]
        packed = PACKED_OF_CODE[code]
        packed[0] = DEAD
        return PairTables(packed, code, g1, g2)

    def tce_ranks(self, p1: Typing, p2: Typing, code: U8) -> U8:
        """For every pair here, :attr:`hla.grading.Dpb1Tce.rank` of the patient's DPB1 against it, from
        the pairs' grade codes (``PairTables.code``): the vectorised twin of :func:`hla.grading.dpb1_tce`."""
        p1, p2 = expressed_pair(p1, p2)
        a, b = self._expressed_pairs()
        tce = self._tce.view()
        donor_a, donor_b = tce[a], tce[b]
        unknown = (donor_a == 0) | (donor_b == 0) | (p1.tce == 0) | (p2.tce == 0)
        permissive = np.minimum(donor_a, donor_b) == min(p1.tce, p2.tce)
        mismatch = (code // 4 >= _ANTIGEN) | (code % 4 >= _ANTIGEN)
        ranks = np.where(unknown, 1, np.where(permissive, 0, 2)).astype(np.uint8)
        ranks[~mismatch] = 0
        return ranks

    def expressed_pair_ids(self, pair: int) -> tuple[int, int]:
        """The typing ids of a stored pair after the null rule, as :meth:`pair_tables` grades them."""
        a, b = self._expressed_pairs()
        return int(a[pair]), int(b[pair])

    def pair_typings(self, pair: int) -> tuple[Typing, Typing]:
        """The two typings of a stored pair (nulls included), for grading a hit in full."""
        return self.typings[int(self.pair_first.data[pair])], self.typings[int(self.pair_second.data[pair])]

    # -- persistence ------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "typings": [
                [
                    t.kind.value,
                    sorted(t.proteins),
                    sorted(t.groups),
                    sorted(t.allele_groups),
                    t.text,
                    t.serological,
                    sorted(t.antigens),
                    sorted(t.antigen_cover),
                    sorted(t.associated),
                    t.possibly_null,
                    t.allele,
                    t.tce,
                ]
                for t in self.typings
            ],
            "pairs": [self.pair_first.view().tolist(), self.pair_second.view().tolist()],
        }

    @classmethod
    def from_state(cls, locus: str, state: dict[str, Any]) -> LocusVocabulary:
        vocabulary = cls(locus)
        for row in state["typings"][1:]:
            kind, proteins, groups, allele_groups, text, serological = row[:6]
            antigens, cover, associated, possibly_null, allele, tce = row[6:]
            vocabulary.typing_id(
                Typing(
                    locus,
                    Kind(kind),
                    frozenset(proteins),
                    frozenset(groups),
                    frozenset(allele_groups),
                    text,
                    serological,
                    frozenset(antigens),
                    frozenset(cover),
                    frozenset(associated),
                    possibly_null,
                    allele=allele,
                    tce=tce,
                )
            )
        for first, second in list(zip(*state["pairs"], strict=True))[1:]:
            vocabulary._new_pair(first, second)
        return vocabulary
