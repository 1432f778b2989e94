"""Who the screening calls first (models.matching.remobilisation_order): the grades decide where they can,
the haplotype set's probability otherwise, a member the set cannot place between the two."""

from __future__ import annotations

import hla
from hla.likelihood import MatchLikelihood
from models.matching import MatchRow, remobilisation_order

LOCI = ("A", "B")
A, P, M = hla.Grade.ALLELE, hla.Grade.POTENTIAL, hla.Grade.MISMATCH


def _row(code: str, grades: tuple[hla.Grade, ...], full: float | None, *, scored: bool = True) -> MatchRow:
    result = hla.MatchResult(LOCI, ((grades[0], grades[1]), (grades[2], grades[3])))
    note = "" if full is not None else "donor unrepresented"
    likelihood = MatchLikelihood({"6/6": full}, full, note) if scored else None
    return MatchRow(code, result, likelihood)


def test_certain_matches_first_then_by_probability_unplaced_members_before_certain_mismatches() -> None:
    rows = [
        _row("mismatch", (A, A, A, M), 0.0),  # search rank 1 of 6 (say): a mismatch is never a full match
        _row("low", (A, P, A, A), 0.2),
        _row("unplaced", (A, P, A, P), None),  # the set does not explain this member's typing
        _row("definite-unplaced", (A, A, A, A), None),  # every position an allele match: a full match
        _row("likely", (P, A, A, A), 0.9),
        _row("no-set", (A, P, A, A), None, scored=False),  # no set configured
    ]
    order = [row.code for row in remobilisation_order(rows)]
    assert order == ["definite-unplaced", "likely", "low", "unplaced", "no-set", "mismatch"]


def test_without_any_likelihood_the_search_rank_stands_with_certain_mismatches_last() -> None:
    rows = [
        _row("first", (A, A, A, P), None, scored=False),
        _row("mismatch", (A, A, M, A), None, scored=False),
        _row("third", (A, P, A, P), None, scored=False),
    ]
    assert [row.code for row in remobilisation_order(rows)] == ["first", "third", "mismatch"]
