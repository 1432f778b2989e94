"""Match grading of a donor against a patient, per locus position, and the ranking of donors.

Grades follow the WMDA matching framework (Bochtler et al. 2016, Bone Marrow Transplant 51:744) and
ATLAS (Anthony Nolan's open-source search): a position is graded after the two donor typings are paired
with the two patient typings the best way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from hla.errors import HlaError
from hla.genotype import Genotype
from hla.nomenclature import LOCI, Kind, Typing

__all__ = [
    "DEFAULT_LOCI",
    "Certainty",
    "Grade",
    "MatchResult",
    "best_pairing",
    "check_loci",
    "grade",
    "grade_pair",
    "grade_typing",
    "rank_key",
]

DEFAULT_LOCI: tuple[str, ...] = ("A", "B", "C", "DRB1")
"""8/8, the usual unrelated-donor search (NMDP/CIBMTR)."""


class Grade(StrEnum):
    """One patient position against the donor typing paired with it, best first."""

    ALLELE = "allele"  # same protein: two fields equal, or same P group with IMGT tables loaded
    POTENTIAL = "potential"  # consistent, not confirmed: low resolution, serology or ambiguity
    ANTIGEN = "antigen"  # same allele group, different protein: an allele-level mismatch
    MISMATCH = "mismatch"  # different allele group: an antigen-level mismatch

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_mismatch(self) -> bool:
        return self in (Grade.ANTIGEN, Grade.MISMATCH)


_RANK = {Grade.ALLELE: 0, Grade.POTENTIAL: 1, Grade.ANTIGEN: 2, Grade.MISMATCH: 3}
GRADES: tuple[Grade, ...] = tuple(Grade)


class Certainty(StrEnum):
    DEFINITE = "definite"  # every position an allele match
    POTENTIAL = "potential"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Grades of one donor for one patient over the requested loci (two per locus, patient order)."""

    loci: tuple[str, ...]
    grades: tuple[tuple[Grade, Grade], ...]
    allele_mismatches: int = field(init=False, compare=False)
    """Positions graded ``antigen``: same group, different protein."""
    antigen_mismatches: int = field(init=False, compare=False)
    """Positions graded ``mismatch``: different allele group."""
    potentials: int = field(init=False, compare=False)
    """Positions graded ``potential``."""

    def __post_init__(self) -> None:
        flat = [g for pair in self.grades for g in pair]
        object.__setattr__(self, "allele_mismatches", flat.count(Grade.ANTIGEN))
        object.__setattr__(self, "antigen_mismatches", flat.count(Grade.MISMATCH))
        object.__setattr__(self, "potentials", flat.count(Grade.POTENTIAL))

    @property
    def by_locus(self) -> dict[str, tuple[Grade, Grade]]:
        return dict(zip(self.loci, self.grades, strict=True))

    @property
    def of(self) -> int:
        return 2 * len(self.loci)

    @property
    def mismatches(self) -> int:
        return self.allele_mismatches + self.antigen_mismatches

    @property
    def matched(self) -> int:
        return self.of - self.mismatches

    @property
    def certainty(self) -> Certainty:
        """``definite`` when every position is an allele match."""
        exact = self.mismatches == 0 and self.potentials == 0
        return Certainty.DEFINITE if exact else Certainty.POTENTIAL

    @property
    def score(self) -> str:
        return f"{self.matched}/{self.of}"

    def as_dict(self, code: str | None = None) -> dict[str, object]:
        """The shape the CLI prints; ``code`` is the donor's registry code when given."""
        out: dict[str, object] = {} if code is None else {"code": code}
        out.update(
            matched=self.matched,
            of=self.of,
            mismatches=self.mismatches,
            allele_mismatches=self.allele_mismatches,
            antigen_mismatches=self.antigen_mismatches,
            certainty=str(self.certainty),
            loci={locus: [str(a), str(b)] for locus, (a, b) in zip(self.loci, self.grades, strict=True)},
        )
        return out


def grade_typing(patient: Typing, donor: Typing) -> Grade:
    """Grade one patient typing against one donor typing (both after :func:`expressed_pair`)."""
    if patient.confirmed and donor.confirmed:  # the common high-resolution case, first
        if patient.proteins == donor.proteins:
            return Grade.ALLELE
    elif patient.kind is not Kind.EXPRESSED or donor.kind is not Kind.EXPRESSED:
        if patient.kind is Kind.UNTYPED or donor.kind is Kind.UNTYPED:
            return Grade.POTENTIAL
        # Both express nothing here: nothing to mismatch; a null against a protein is a mismatch.
        return Grade.ALLELE if patient.kind is donor.kind else Grade.MISMATCH
    elif (
        not patient.proteins.isdisjoint(donor.proteins)
        or not patient.groups.isdisjoint(donor.allele_groups)
        or not donor.groups.isdisjoint(patient.allele_groups)
    ):
        return Grade.POTENTIAL
    return Grade.MISMATCH if patient.allele_groups.isdisjoint(donor.allele_groups) else Grade.ANTIGEN


def expressed_pair(first: Typing, second: Typing) -> tuple[Typing, Typing]:
    """WMDA/ATLAS: an explicit null is absent, so the locus is homozygous for the other typing."""
    if first.kind is Kind.NULL and second.kind is not Kind.NULL:
        return second, second
    if second.kind is Kind.NULL and first.kind is not Kind.NULL:
        return first, first
    return first, second


def _pairing_order(pair: tuple[Grade, Grade]) -> tuple[int, int, int, int, int]:
    a, b = pair
    return (
        a.is_mismatch + b.is_mismatch,
        (a is Grade.POTENTIAL) + (b is Grade.POTENTIAL),
        (a is Grade.MISMATCH) + (b is Grade.MISMATCH),
        a.rank,
        b.rank,
    )


def best_pairing(straight: tuple[Grade, Grade], crossed: tuple[Grade, Grade]) -> tuple[Grade, Grade]:
    """Of the two ways to pair donor with patient typings, the one with fewest mismatches, then fewest
    potentials, then fewest group-level mismatches; ties go to the better grade at patient position 1,
    so the result does not depend on the order the donor's typings were written in."""
    return min(straight, crossed, key=_pairing_order)


_BEST = {
    (a, b, c, d): best_pairing((a, b), (c, d)) for a in GRADES for b in GRADES for c in GRADES for d in GRADES
}


def pairing_table() -> Mapping[tuple[Grade, Grade, Grade, Grade], tuple[Grade, Grade]]:
    """:func:`best_pairing` for every (p1-d1, p2-d2, p1-d2, p2-d1) grade combination, for the index."""
    return dict(_BEST)


def grade_pair(patient: tuple[Typing, Typing], donor: tuple[Typing, Typing]) -> tuple[Grade, Grade]:
    """The two grades at one locus, in patient order."""
    p1, p2 = expressed_pair(*patient)
    d1, d2 = expressed_pair(*donor)
    return _BEST[grade_typing(p1, d1), grade_typing(p2, d2), grade_typing(p1, d2), grade_typing(p2, d1)]


def check_loci(loci: Iterable[str], patient: Genotype | None = None) -> tuple[str, ...]:
    """Validate requested loci (6/6 A,B,DRB1; 8/8 +C; 10/10 +DQB1; 12/12 +DPB1) in LOCI order."""
    wanted = tuple(loci)
    unknown = [locus for locus in wanted if locus not in LOCI]
    if unknown or not wanted or len(set(wanted)) != len(wanted):
        raise HlaError(f"loci {list(wanted)}: expected distinct names from {', '.join(LOCI)}")
    if patient is not None:
        missing = [locus for locus in wanted if not patient.typed(locus)]
        if missing:
            raise HlaError(f"the patient is not typed at {', '.join(missing)}: cannot score those loci")
    return tuple(locus for locus in LOCI if locus in wanted)


def grade(patient: Genotype, donor: Genotype, loci: Sequence[str] = DEFAULT_LOCI) -> MatchResult:
    """Grade a donor for a patient over ``loci``; a locus the donor lacks is untyped (potential)."""
    wanted = _checked(tuple(loci), patient.loci)
    return MatchResult(wanted, tuple(grade_pair(patient[locus], donor[locus]) for locus in wanted))


@lru_cache(maxsize=256)
def _checked(loci: tuple[str, ...], typed: tuple[str, ...]) -> tuple[str, ...]:
    wanted = check_loci(loci)
    missing = [locus for locus in wanted if locus not in typed]
    if missing:
        raise HlaError(f"the patient is not typed at {', '.join(missing)}: cannot score those loci")
    return wanted


def rank_key(result: MatchResult, sort_key: int, registered: int, key: int) -> tuple[int, ...]:
    """Ranking: fewest mismatches, definite before potential, fewer potentials, then the caller's
    ``sort_key`` (younger first, optionally sex), registration order, and the member key."""
    return (
        result.mismatches,
        result.certainty is not Certainty.DEFINITE,
        result.potentials,
        sort_key,
        registered,
        key,
    )
