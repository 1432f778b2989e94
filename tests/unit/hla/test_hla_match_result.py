from __future__ import annotations

import pytest

from hla import Certainty, Grade, HlaError, grade, parse_genotype, rank_key

PATIENT = parse_genotype(
    "A*02:01+A*24:02^B*40:01+B*46:01^C*01:02+C*03:04^DRB1*15:01+DRB1*09:01"
    "^DQB1*06:02+DQB1*03:01^DPB1*04:01+DPB1*02:01"
)


def test_scores_count_over_requested_loci() -> None:
    donor = parse_genotype(
        "A*02:01+A*24:02^B*40:01+B*46:01^C*01:02+C*03:04^DRB1*15:01+DRB1*09:01"
        "^DQB1*06:02+DQB1*03:01^DPB1*04:01+DPB1*02:01"
    )
    for loci, of in (
        (("A", "B", "DRB1"), 6),
        (("A", "B", "C", "DRB1"), 8),
        (("A", "B", "C", "DRB1", "DQB1"), 10),
        (("A", "B", "C", "DRB1", "DQB1", "DPB1"), 12),
    ):
        result = grade(PATIENT, donor, loci)
        assert (result.matched, result.of, result.certainty) == (of, of, Certainty.DEFINITE)


def test_mismatch_counts_split_by_level_and_certainty() -> None:
    donor = parse_genotype("A*02:06+A*24:02^B*40:01+B*07:02^C*01:02+C*03:XX^DRB1*15:01+DRB1*09:01")
    result = grade(PATIENT, donor)
    assert (result.matched, result.of, result.mismatches) == (6, 8, 2)
    assert (result.allele_mismatches, result.antigen_mismatches, result.potentials) == (1, 1, 1)
    assert result.certainty is Certainty.POTENTIAL


SAME_PROTEIN = {"level": "protein", "confidence": "definite", "rule": "same_protein"}


def test_as_dict_is_the_cli_shape() -> None:
    result = grade(
        PATIENT, parse_genotype("A*02:01+A*24:02^B*40:01+B*46:01^C*01:02+C*03:04^DRB1*15:01+DRB1*09:XX")
    )
    assert result.as_dict("CMDP-1") == {
        "code": "CMDP-1",
        "matched": 8,
        "of": 8,
        "mismatches": 0,
        "allele_mismatches": 0,
        "antigen_mismatches": 0,
        "certainty": "potential",
        "loci": {
            "A": ["allele", "allele"],
            "B": ["allele", "allele"],
            "C": ["allele", "allele"],
            "DRB1": ["allele", "potential"],
        },
        "nulls": {},  # added by issue 13 beside the unchanged grades: loci where a null is involved
        "patient_untyped": [],  # issue 13 item 7: requested loci the patient has no typing at
        "dpb1_tce": None,  # issue 13 item 6: DPB1 permissiveness, when DPB1 is scored
        "not_counted": [],  # item 6: loci graded but left out of the total (DPB1 on request)
        # issue 13 item 5: per position the WMDA level that decided, ATLAS's confidence, the rule
        "details": {
            **{locus: [SAME_PROTEIN, SAME_PROTEIN] for locus in ("A", "B", "C")},
            "DRB1": [
                SAME_PROTEIN,
                {"level": "first_field", "confidence": "potential", "rule": "consistent"},
            ],
        },
    }


def test_ranking_prefers_fewer_mismatches_then_certainty_then_potentials_then_youth() -> None:
    definite = grade(PATIENT, PATIENT)
    potential = grade(
        PATIENT, parse_genotype("A*02+A*24:02^B*40:01+B*46:01^C*01:02+C*03:04^DRB1*15:01+DRB1*09:01")
    )
    two_potentials = grade(
        PATIENT, parse_genotype("A*02+A*24^B*40:01+B*46:01^C*01:02+C*03:04^DRB1*15:01+DRB1*09:01")
    )
    mismatch = grade(
        PATIENT, parse_genotype("A*03:01+A*24:02^B*40:01+B*46:01^C*01:02+C*03:04^DRB1*15:01+DRB1*09:01")
    )
    keys = [
        rank_key(mismatch, 20, 1, 1),
        rank_key(two_potentials, 20, 1, 2),
        rank_key(potential, 30, 1, 3),
        rank_key(definite, 50, 1, 4),
        rank_key(potential, 20, 1, 5),
    ]
    assert [k[-1] for k in sorted(keys)] == [4, 5, 3, 2, 1]


def test_patient_untyped_at_a_requested_locus_is_scored_potential_with_a_warning() -> None:
    """Issue 13 item 7: searched, not refused; both positions potential and the JSON says which locus."""
    result = grade(parse_genotype("A*02:01^B*07:02^DRB1*15:01"), PATIENT, ("A", "B", "DRB1", "DQB1"))
    assert result.by_locus["DQB1"] == (Grade.POTENTIAL, Grade.POTENTIAL)
    assert result.patient_untyped == ("DQB1",)
    assert result.certainty is Certainty.POTENTIAL
    shown = result.as_dict()
    grades = shown["loci"]
    assert isinstance(grades, dict) and grades["DQB1"] == ["potential", "potential"]
    assert shown["patient_untyped"] == ["DQB1"]
    assert grade(PATIENT, PATIENT, ("A", "DQB1")).as_dict()["patient_untyped"] == []


def test_unknown_locus_is_rejected() -> None:
    with pytest.raises(HlaError, match="expected distinct names"):
        grade(PATIENT, PATIENT, ("A", "DRB9"))
