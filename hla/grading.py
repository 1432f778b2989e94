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
    "Dpb1Tce",
    "Grade",
    "Level",
    "MatchConfidence",
    "MatchResult",
    "NullMatch",
    "Rule",
    "best_pairing",
    "check_loci",
    "untyped_loci",
    "grade",
    "grade_pair",
    "grade_pair_detail",
    "grade_typing",
    "grade_typing_rule",
    "describe",
    "dpb1_tce",
    "not_counted_loci",
    "pair_detail",
    "rule_of",
    "rank_key",
]

DEFAULT_LOCI: tuple[str, ...] = ("A", "B", "C", "DRB1")
"""8/8, the usual unrelated-donor search (NMDP/CIBMTR)."""


class Grade(StrEnum):
    """One patient position against the donor typing paired with it, best first."""

    ALLELE = "allele"  # same protein: two fields equal, or same P group with IMGT tables loaded
    POTENTIAL = "potential"  # consistent, not confirmed: low resolution, serology or ambiguity
    ANTIGEN = "antigen"  # same antigen (serology, else first field), different protein: allele-level mismatch
    MISMATCH = "mismatch"  # different antigen: an antigen-level mismatch

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_mismatch(self) -> bool:
        return self in (Grade.ANTIGEN, Grade.MISMATCH)


_RANK = {Grade.ALLELE: 0, Grade.POTENTIAL: 1, Grade.ANTIGEN: 2, Grade.MISMATCH: 3}
GRADES: tuple[Grade, ...] = tuple(Grade)


class Rule(StrEnum):
    """The rule that decided one position's grade (kept for a WMDA-level ``details`` field)."""

    SAME_PROTEIN = "same_protein"  # allele: the first two fields agree (WHO: same protein)
    SAME_P_GROUP = "same_p_group"  # allele: same P group (WMDA hla_nom_p)
    NULL_VS_NULL = "null_vs_null"  # allele: neither side expresses a protein here
    CONSISTENT = "consistent"  # potential: low resolution, serology or ambiguity that overlaps
    UNTYPED = "untyped"  # potential: a side was not typed at the locus
    SAME_ANTIGEN = "same_antigen"  # antigen: same serological antigen (WMDA rel_dna_ser)
    ASSOCIATED_ANTIGEN = "associated_antigen"  # antigen: associated antigens, B39 and B3901 (rel_ser_ser)
    BROAD_SPLIT = "broad_split"  # antigen: a broad and its split, B16 and B39 (rel_ser_ser)
    FIRST_FIELD = "first_field"  # antigen: same allele group, a side has no assigned serology
    ANTIGEN_MISMATCH = "antigen_mismatch"  # mismatch: serological antigens differ (B62 vs B75)
    FIRST_FIELD_MISMATCH = "first_field_mismatch"  # mismatch: different allele group, no serology
    EXPRESSED_VS_NULL = "expressed_vs_null"  # mismatch: a protein against a null (nothing expressed)


class NullMatch(StrEnum):
    """Null alleles at a position (item 4): the grade is that of the expressed typings, this says so."""

    EXPRESSED_VS_NULL = "expressed_vs_null"
    """ATLAS ExpressingVsNull: one side's typing here is a null, graded as the locus's other typing."""
    NULL_VS_NULL = "null_vs_null"
    """Both sides' typings here are nulls."""
    POSSIBLY_NULL = "possibly_null"
    """An allele string or code here also lists a null (A*01:01/02N); graded on its expressed alleles."""


class Level(StrEnum):
    """The WMDA match level that decided a position (issue 13 item 5; WMDA matching framework, Bochtler
    et al. 2016; ATLAS MatchGrade): the finest level at which the two typings were compared."""

    GDNA = "gdna"  # allele: the same allele to four fields (same genomic sequence)
    CDNA = "cdna"  # allele: the same allele to three fields (same coding sequence)
    PROTEIN = "protein"  # allele: the same first two fields (same protein)
    P_GROUP = "p_group"  # allele: same P group (same antigen-recognition domain), hla_nom_p
    SEROLOGY = "serology"  # antigen or mismatch: compared at the serological antigen (rel_dna_ser)
    SEROLOGY_BROAD = "serology_broad"  # antigen: a broad and its split (rel_ser_ser)
    SEROLOGY_ASSOCIATED = "serology_associated"  # antigen: associated antigens (rel_ser_ser)
    FIRST_FIELD = "first_field"  # antigen, mismatch or potential: the allele group only
    NULL = "null"  # a null allele decided: null against null (allele) or against a protein (mismatch)
    UNTYPED = "untyped"  # potential: a side is not typed at the locus


class MatchConfidence(StrEnum):
    """ATLAS's match confidence per position (Atlas.MatchingAlgorithm MatchConfidence)."""

    DEFINITE = "definite"  # an allele match of two unambiguous (single-allele) typings
    EXACT = "exact"  # an allele match where a side is ambiguous within the one P group
    POTENTIAL = "potential"  # may match: low resolution, serology, ambiguity or untyped
    MISMATCH = "mismatch"  # an allele- or antigen-level mismatch


class Dpb1Tce(StrEnum):
    """A DPB1 mismatch by T-cell-epitope group (issue 13 item 6; Fleischhauer et al. 2012 Lancet Oncol
    13:366, Crivello et al. 2016 BBMT 22:1381): permissive when the most immunogenic TCE group (lowest
    number) of patient and donor is the same; otherwise non-permissive in the direction of the side
    with the more immunogenic group (GvH: the patient's, HvG: the donor's)."""

    NO_MISMATCH = "no_mismatch"  # neither DPB1 position is an allele- or antigen-level mismatch
    PERMISSIVE = "permissive"
    NON_PERMISSIVE_GVH = "non_permissive_gvh"
    NON_PERMISSIVE_HVG = "non_permissive_hvg"
    UNKNOWN = "unknown"  # a side's TCE group is not known (no table, low resolution, mixed groups)

    @property
    def rank(self) -> int:
        """Ranking (item 6): no DPB1 mismatch and a permissive one alike (0), before a mismatch whose
        permissiveness is unknown (1), before a non-permissive one in either direction (2)."""
        return _TCE_RANK[self]


_TCE_RANK = {
    Dpb1Tce.NO_MISMATCH: 0,
    Dpb1Tce.PERMISSIVE: 0,
    Dpb1Tce.UNKNOWN: 1,
    Dpb1Tce.NON_PERMISSIVE_GVH: 2,
    Dpb1Tce.NON_PERMISSIVE_HVG: 2,
}


class Certainty(StrEnum):
    DEFINITE = "definite"  # every position an allele match
    POTENTIAL = "potential"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Grades of one donor for one patient over the requested loci (two per locus, patient order)."""

    loci: tuple[str, ...]
    grades: tuple[tuple[Grade, Grade], ...]
    rules: tuple[tuple[Rule, Rule], ...] = ()
    """Per locus, per patient position, the rule that decided the grade (empty if not computed)."""
    nulls: tuple[tuple[NullMatch | None, NullMatch | None], ...] = ()
    """Per locus, per patient position, whether a null allele is involved (empty if not computed)."""
    patient_untyped: tuple[str, ...] = ()
    """Requested loci the patient was not typed at (item 7): every position there is graded potential."""
    levels: tuple[tuple[Level, Level], ...] = ()
    """Per locus, per patient position, the WMDA level that decided (item 5; empty if not computed)."""
    confidences: tuple[tuple[MatchConfidence, MatchConfidence], ...] = ()
    """Per locus, per patient position, ATLAS's match confidence (item 5; empty if not computed)."""
    dpb1_tce: Dpb1Tce | None = None
    """DPB1 permissiveness by TCE group when DPB1 is graded (item 6); None otherwise."""
    not_counted: tuple[str, ...] = ()
    """Loci graded and shown but left out of the total (item 6: DPB1, as registries report 10/10 and
    DPB1 permissiveness apart): their grades count in neither ``matched``/``of`` nor the certainty."""
    allele_mismatches: int = field(init=False, compare=False)
    """Positions graded ``antigen``: same antigen, different protein."""
    antigen_mismatches: int = field(init=False, compare=False)
    """Positions graded ``mismatch``: different antigen (serological, else first field)."""
    potentials: int = field(init=False, compare=False)
    """Positions graded ``potential``."""

    def __post_init__(self) -> None:
        flat = [
            g
            for locus, pair in zip(self.loci, self.grades, strict=True)
            if locus not in self.not_counted
            for g in pair
        ]
        object.__setattr__(self, "allele_mismatches", flat.count(Grade.ANTIGEN))
        object.__setattr__(self, "antigen_mismatches", flat.count(Grade.MISMATCH))
        object.__setattr__(self, "potentials", flat.count(Grade.POTENTIAL))

    @property
    def by_locus(self) -> dict[str, tuple[Grade, Grade]]:
        return dict(zip(self.loci, self.grades, strict=True))

    @property
    def of(self) -> int:
        return 2 * (len(self.loci) - len(self.not_counted))

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
            # Added beside the four grades (their shape unchanged): loci where a null allele is involved,
            # per patient position, e.g. {"C": [null, "expressed_vs_null"]}.
            nulls={
                locus: [None if a is None else str(a), None if b is None else str(b)]
                for locus, (a, b) in zip(
                    self.loci, self.nulls or [(None, None)] * len(self.loci), strict=True
                )
                if a is not None or b is not None
            },
            # Item 7: requested loci the patient has no typing at, scored potential at both positions;
            # a warning for the coordinator (the score there confirms nothing).
            patient_untyped=list(self.patient_untyped),
            # Item 6: DPB1 permissiveness by TCE group (null when DPB1 is not scored).
            dpb1_tce=None if self.dpb1_tce is None else str(self.dpb1_tce),
            # Item 6: loci graded above but left out of matched/of/mismatches/certainty (["DPB1"] or []).
            not_counted=list(self.not_counted),
            # Item 5: per patient position the WMDA level that decided, ATLAS's confidence and the rule.
            details={
                locus: [
                    {"level": str(level), "confidence": str(confidence), "rule": str(rule)}
                    for level, confidence, rule in zip(levels, confidences, rules, strict=True)
                ]
                for locus, levels, confidences, rules in zip(
                    self.loci, self.levels, self.confidences, self.rules, strict=True
                )
            },
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
    # Antigen level (WMDA matching framework): serological antigens from rel_dna_ser, compatible through
    # broads, splits and associated antigens (rel_ser_ser); the first field where a side has none.
    if patient.antigens.isdisjoint(donor.antigen_cover) and donor.antigens.isdisjoint(patient.antigen_cover):
        return Grade.MISMATCH
    return Grade.ANTIGEN


def rule_of(grade: Grade, patient: Typing, donor: Typing) -> Rule:
    """The rule that gave ``grade`` (from :func:`grade_typing` of the same two typings)."""
    if grade is Grade.ALLELE:
        if patient.kind is Kind.NULL:
            return Rule.NULL_VS_NULL
        return Rule.SAME_P_GROUP if next(iter(patient.proteins)).endswith("P") else Rule.SAME_PROTEIN
    if grade is Grade.POTENTIAL:
        return Rule.UNTYPED if Kind.UNTYPED in (patient.kind, donor.kind) else Rule.CONSISTENT
    if grade is Grade.MISMATCH:
        if patient.kind is not donor.kind:
            return Rule.EXPRESSED_VS_NULL
        both = patient.serology_keys and donor.serology_keys
        return Rule.ANTIGEN_MISMATCH if both else Rule.FIRST_FIELD_MISMATCH
    if not patient.serology_keys.isdisjoint(donor.serology_keys):
        return Rule.SAME_ANTIGEN
    links = (patient.serology_keys & donor.antigen_cover) | (donor.serology_keys & patient.antigen_cover)
    if not links:
        return Rule.FIRST_FIELD
    if not links.isdisjoint(patient.associated | donor.associated):
        return Rule.ASSOCIATED_ANTIGEN
    return Rule.BROAD_SPLIT


def grade_typing_rule(patient: Typing, donor: Typing) -> tuple[Grade, Rule]:
    """:func:`grade_typing` with the rule that decided it."""
    grade = grade_typing(patient, donor)
    return grade, rule_of(grade, patient, donor)


_RULE_LEVEL = {
    Rule.SAME_PROTEIN: Level.PROTEIN,
    Rule.SAME_P_GROUP: Level.P_GROUP,
    Rule.NULL_VS_NULL: Level.NULL,
    Rule.UNTYPED: Level.UNTYPED,
    Rule.SAME_ANTIGEN: Level.SEROLOGY,
    Rule.ASSOCIATED_ANTIGEN: Level.SEROLOGY_ASSOCIATED,
    Rule.BROAD_SPLIT: Level.SEROLOGY_BROAD,
    Rule.FIRST_FIELD: Level.FIRST_FIELD,
    Rule.ANTIGEN_MISMATCH: Level.SEROLOGY,
    Rule.FIRST_FIELD_MISMATCH: Level.FIRST_FIELD,
    Rule.EXPRESSED_VS_NULL: Level.NULL,
}
_FIELD_LEVEL = {4: Level.GDNA, 3: Level.CDNA, 2: Level.PROTEIN}


def describe(grade: Grade, rule: Rule, patient: Typing, donor: Typing) -> tuple[Level, MatchConfidence]:
    """The WMDA level and ATLAS confidence of one position, from its grade, its rule and the two typings
    paired there (after :func:`expressed_pair`)."""
    if grade.is_mismatch:
        return _RULE_LEVEL[rule], MatchConfidence.MISMATCH
    if grade is Grade.POTENTIAL:
        if rule is Rule.UNTYPED:
            return Level.UNTYPED, MatchConfidence.POTENTIAL
        # The coarsest side is the level the two were found consistent at.
        if patient.serological or donor.serological:
            return Level.SEROLOGY, MatchConfidence.POTENTIAL
        if patient.groups or donor.groups:
            return Level.FIRST_FIELD, MatchConfidence.POTENTIAL
        shared = patient.proteins & donor.proteins
        in_p_group = any(protein.endswith("P") for protein in shared)
        return (Level.P_GROUP if in_p_group else Level.PROTEIN), MatchConfidence.POTENTIAL
    if not (patient.allele and donor.allele):
        # An allele match where a side names more than one allele (a P or G group, an allele string):
        # ATLAS's "exact" (one P group), at the level the rule found.
        return _RULE_LEVEL[rule], MatchConfidence.EXACT
    common = 0
    for mine, theirs in zip(patient.allele.split(":"), donor.allele.split(":"), strict=False):
        if mine != theirs:
            break
        common += 1
    if rule is Rule.NULL_VS_NULL:
        return Level.NULL, MatchConfidence.DEFINITE
    return _FIELD_LEVEL.get(min(common, 4), Level.P_GROUP), MatchConfidence.DEFINITE


def dpb1_tce(
    patient: tuple[Typing, Typing], donor: tuple[Typing, Typing], grades: tuple[Grade, Grade]
) -> Dpb1Tce:
    """:class:`Dpb1Tce` of one DPB1 locus graded ``grades`` (after the WMDA null rule)."""
    if not (grades[0].is_mismatch or grades[1].is_mismatch):
        return Dpb1Tce.NO_MISMATCH
    mine = {typing.tce for typing in expressed_pair(*patient)}
    theirs = {typing.tce for typing in expressed_pair(*donor)}
    if 0 in mine or 0 in theirs:
        return Dpb1Tce.UNKNOWN
    if min(mine) == min(theirs):
        return Dpb1Tce.PERMISSIVE
    return Dpb1Tce.NON_PERMISSIVE_GVH if min(mine) < min(theirs) else Dpb1Tce.NON_PERMISSIVE_HVG


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


def _null_match(patient: Typing, donor: Typing) -> NullMatch | None:
    p_null, d_null = patient.kind is Kind.NULL, donor.kind is Kind.NULL
    if p_null and d_null:
        return NullMatch.NULL_VS_NULL
    if p_null or d_null:
        return NullMatch.EXPRESSED_VS_NULL
    if patient.possibly_null or donor.possibly_null:
        return NullMatch.POSSIBLY_NULL
    return None


_NULL_ORDER = {None: 0, NullMatch.POSSIBLY_NULL: 1, NullMatch.EXPRESSED_VS_NULL: 2, NullMatch.NULL_VS_NULL: 3}


Detail = tuple[
    tuple[Grade, Grade],
    tuple[Rule, Rule],
    tuple[NullMatch | None, NullMatch | None],
    tuple[Level, Level],
    tuple[MatchConfidence, MatchConfidence],
]
"""One locus: grades, rules, null flags, WMDA levels and ATLAS confidences, in patient order."""


def grade_pair_detail(patient: tuple[Typing, Typing], donor: tuple[Typing, Typing]) -> Detail:
    """:func:`grade_pair` with, per patient position, the rule that decided, the null involved, the
    WMDA level and ATLAS's confidence.

    The donor typing paired with each patient position is the one the best pairing chose; when both
    pairings give the same grades, the one listing the null flags later wins, so the result does not
    depend on the order the donor's typings were written in (the grades never do)."""
    p1, p2 = expressed_pair(*patient)
    d1, d2 = expressed_pair(*donor)
    straight = (grade_typing(p1, d1), grade_typing(p2, d2))
    crossed = (grade_typing(p1, d2), grade_typing(p2, d1))
    return pair_detail(patient, donor, straight, crossed)


def pair_detail(
    patient: tuple[Typing, Typing],
    donor: tuple[Typing, Typing],
    straight: tuple[Grade, Grade],
    crossed: tuple[Grade, Grade],
) -> Detail:
    """:func:`grade_pair_detail` from the four grades already known (the index has them)."""
    p1, p2 = expressed_pair(*patient)
    d1, d2 = expressed_pair(*donor)
    donors = (d1, d2)
    grades = _BEST[straight[0], straight[1], crossed[0], crossed[1]]
    options = []
    for pair, (first, second) in ((straight, (0, 1)), (crossed, (1, 0))):
        if pair == grades:
            nulls = (_null_match(patient[0], donor[first]), _null_match(patient[1], donor[second]))
            rules = (rule_of(grades[0], p1, donors[first]), rule_of(grades[1], p2, donors[second]))
            described = (
                describe(grades[0], rules[0], p1, donors[first]),
                describe(grades[1], rules[1], p2, donors[second]),
            )
            # Same nulls both ways: the rules, then the levels decide, so donor order cannot change them.
            order = ((_NULL_ORDER[nulls[0]], _NULL_ORDER[nulls[1]]), rules, described)
            options.append((order, nulls, rules, described))
    _, nulls, rules, ((l1, c1), (l2, c2)) = min(options, key=lambda option: option[0])
    return grades, rules, nulls, (l1, l2), (c1, c2)


def check_loci(loci: Iterable[str]) -> tuple[str, ...]:
    """Validate requested loci (6/6 A,B,DRB1; 8/8 +C; 10/10 +DQB1; 12/12 +DPB1) in LOCI order."""
    wanted = tuple(loci)
    unknown = [locus for locus in wanted if locus not in LOCI]
    if unknown or not wanted or len(set(wanted)) != len(wanted):
        raise HlaError(f"loci {list(wanted)}: expected distinct names from {', '.join(LOCI)}")
    return tuple(locus for locus in LOCI if locus in wanted)


def untyped_loci(patient: Genotype, loci: Sequence[str]) -> tuple[str, ...]:
    """The requested loci the patient was not typed at. Issue 13 item 7: such a locus is searched as
    untyped (potential at every position, nothing confirmed) and the result says so, not refused."""
    return tuple(locus for locus in loci if not patient.typed(locus))


def grade(
    patient: Genotype, donor: Genotype, loci: Sequence[str] = DEFAULT_LOCI, *, count_dpb1: bool = True
) -> MatchResult:
    """Grade a donor for a patient over ``loci``; a locus either side lacks is untyped (potential).
    ``count_dpb1=False``: DPB1, when among ``loci``, is graded and its permissiveness named, but it is
    left out of the total (``not_counted``)."""
    wanted = _checked(tuple(loci))
    not_counted = not_counted_loci(wanted, count_dpb1)
    details = [grade_pair_detail(patient[locus], donor[locus]) for locus in wanted]
    return MatchResult(
        wanted,
        tuple(d[0] for d in details),
        tuple(d[1] for d in details),
        tuple(d[2] for d in details),
        untyped_loci(patient, wanted),
        tuple(d[3] for d in details),
        tuple(d[4] for d in details),
        _dpb1_of(patient, donor, wanted, details),
        not_counted,
    )


def not_counted_loci(loci: tuple[str, ...], count_dpb1: bool) -> tuple[str, ...]:
    """The loci of ``loci`` left out of the total: DPB1 when ``count_dpb1`` is false. At least one locus
    must count (DPB1 alone, not counted, would be a search that matches everyone)."""
    if count_dpb1 or "DPB1" not in loci:
        return ()
    if loci == ("DPB1",):
        raise HlaError(
            "DPB1 不计入总分时须另选至少一个位点 with DPB1 not counted, choose at least one other locus"
        )
    return ("DPB1",)


def _dpb1_of(
    patient: Genotype, donor: Genotype, wanted: tuple[str, ...], details: list[Detail]
) -> Dpb1Tce | None:
    if "DPB1" not in wanted:
        return None
    return dpb1_tce(patient["DPB1"], donor["DPB1"], details[wanted.index("DPB1")][0])


@lru_cache(maxsize=256)
def _checked(loci: tuple[str, ...]) -> tuple[str, ...]:
    return check_loci(loci)


def rank_key(result: MatchResult, sort_key: int, registered: int, key: int) -> tuple[int, ...]:
    """Ranking: fewest mismatches; then, when DPB1 is graded, no or a permissive DPB1 mismatch before an
    unknown one before a non-permissive one (item 6: :attr:`Dpb1Tce.rank`, whether or not DPB1 counts in
    the total); definite before potential, fewer potentials, then the caller's ``sort_key`` (younger
    first, optionally sex), registration order, and the member key."""
    return (
        result.mismatches,
        0 if result.dpb1_tce is None else result.dpb1_tce.rank,
        result.certainty is not Certainty.DEFINITE,
        result.potentials,
        sort_key,
        registered,
        key,
    )
