"""Match likelihood (issue 13 item 8): checked against brute-force enumeration of every pair of haplotypes
on small sets, and against a Monte-Carlo sample of diplotypes from the set."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from hla import Genotype, Kind, ReferenceFileError, Typing, parse_genotype
from hla.likelihood import (
    HaplotypeSet,
    LikelihoodCalculator,
    load_haplotypes,
    naive_match_probability,
)
from hla.synthetic import synthetic_haplotypes, synthetic_reference

LOCI5 = ("A", "B", "C", "DRB1", "DQB1")
# A small set with allele groups shared between haplotypes, two proteins per group, and a null allele.
SMALL = [
    ({"A": "01:01", "B": "08:01", "C": "07:01", "DRB1": "03:01", "DQB1": "02:01"}, 0.20),
    ({"A": "02:01", "B": "07:02", "C": "07:02", "DRB1": "15:01", "DQB1": "06:02"}, 0.18),
    ({"A": "02:06", "B": "40:01", "C": "03:04", "DRB1": "04:05", "DQB1": "04:01"}, 0.12),
    ({"A": "02:01", "B": "40:02", "C": "03:04", "DRB1": "04:06", "DQB1": "04:01"}, 0.10),
    ({"A": "24:02", "B": "40:01", "C": "07:02", "DRB1": "15:01", "DQB1": "06:02"}, 0.15),
    ({"A": "24:09N", "B": "07:02", "C": "07:02", "DRB1": "04:05", "DQB1": "04:01"}, 0.05),
    ({"A": "24:02", "B": "08:01", "C": "07:01", "DRB1": "03:01", "DQB1": "02:01"}, 0.08),
    ({"A": "02:06", "B": "07:02", "C": "03:04", "DRB1": "15:01", "DQB1": "06:02"}, 0.12),
    ({"A": "02:01", "B": "07:02", "C": "07:02", "DRB1": "04:06", "DQB1": "04:01"}, 0.06),
    ({"A": "24:02", "B": "40:02", "C": "03:04", "DRB1": "04:05", "DQB1": "04:01"}, 0.04),
]
LEVEL_LOCI = {"6/6": ("A", "B", "DRB1"), "8/8": ("A", "B", "C", "DRB1"), "10/10": LOCI5}
# Typings at every resolution the index takes: high, allele group, '/' ambiguity, untyped loci, a null.
PATIENTS = [
    "A*02:01+A*24:02^B*07:02+B*40:01^C*07:02+C*07:02^DRB1*15:01+DRB1*15:01^DQB1*06:02+DQB1*06:02",
    "A*02+A*24^B*40+B*07^DRB1*04+DRB1*15",
    "A*02:01/02:06+A*01:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01",
]
MC_PATIENT = "A*02+A*24^B*40+B*07"  # DRB1, C and DQB1 untyped: many diplotypes
DONORS = [
    "A*02+A*24^B*07+B*40^DRB1*15+DRB1*15",
    "A*02:01+A*24:02^B*07:02+B*40:01^DRB1*15:01+DRB1*15:01",
    "A*02+A*02^B*40+B*07^DRB1*04+DRB1*15",
    "A*24+A*02^B*40+B*07^DRB1*04+DRB1*15^C*07:02+C*03:04",
    "A*24:02+A*24:09N^B*40+B*07^DRB1*04+DRB1*15",
    "A*01:01+A*02:01/02:06^B*08+B*07^DRB1*03+DRB1*15",
    "A*11:01+A*02:01^B*07:02+B*40:01^DRB1*15:01+DRB1*04:05",
]


def small_set() -> HaplotypeSet:
    return HaplotypeSet.from_records(SMALL, source="test")


# -- the oracle: every ordered pair of haplotypes, every patient pair against every donor pair ------------
def allows(allele: str, typing: Typing) -> bool:
    """Whether an allele of the set is one the typing stands for (written here from the typing's fields)."""
    null = allele.endswith("N")
    if typing.kind is Kind.UNTYPED:
        return True
    if typing.kind is Kind.NULL:
        return null
    return not null and (allele.rstrip("N") in typing.proteins or allele[:2] in typing.groups)


def consistent(genotype: Genotype, h1: dict[str, str], h2: dict[str, str]) -> bool:
    for locus in LOCI5:
        t1, t2 = genotype[locus]
        straight = allows(h1[locus], t1) and allows(h2[locus], t2)
        crossed = allows(h1[locus], t2) and allows(h2[locus], t1)
        if not (straight or crossed):
            return False
    return True


def expressed(a: str, b: str) -> list[str]:
    """Proteins at a locus, a null taking its partner's (WMDA/ATLAS)."""
    if a.endswith("N") and not b.endswith("N"):
        a = b
    if b.endswith("N") and not a.endswith("N"):
        b = a
    return sorted([a, b])


def brute_force(
    records: list[tuple[dict[str, str], float]], patient: Genotype, donor: Genotype
) -> dict[str, float | None]:
    total = sum(f for _, f in records)
    pairs = [(h1, h2, f1 * f2 / total**2) for (h1, f1), (h2, f2) in itertools.product(records, repeat=2)]
    ps = [(h1, h2, w) for h1, h2, w in pairs if consistent(patient, h1, h2)]
    ds = [(h1, h2, w) for h1, h2, w in pairs if consistent(donor, h1, h2)]
    norm = sum(w for *_, w in ps) * sum(w for *_, w in ds)
    if norm == 0:
        return dict.fromkeys(LEVEL_LOCI)
    out: dict[str, float | None] = {}
    for level, loci in LEVEL_LOCI.items():
        matched = 0.0
        for p1, p2, pw in ps:
            for d1, d2, dw in ds:
                if all(expressed(p1[x], p2[x]) == expressed(d1[x], d2[x]) for x in loci):
                    matched += pw * dw
        out[level] = matched / norm
    return out


@pytest.mark.parametrize("patient_text", PATIENTS)
def test_likelihood_equals_brute_force_enumeration_on_a_small_set(patient_text: str) -> None:
    haplotypes = small_set()
    patient = parse_genotype(patient_text)
    calculator = LikelihoodCalculator(haplotypes, patient, ("A", "B", "C", "DRB1"))
    for donor_text in DONORS:
        donor = parse_genotype(donor_text)
        expected = brute_force(SMALL, patient, donor)
        got = calculator.against(donor)
        for level, value in expected.items():
            if value is None:
                assert got.levels[level] is None
            else:
                assert got.levels[level] == pytest.approx(value, abs=1e-12), (donor_text, level)
        assert got.full == (None if expected["8/8"] is None else pytest.approx(expected["8/8"], abs=1e-12))


def test_low_resolution_cases_give_probabilities_strictly_between_zero_and_one() -> None:
    """The point of the feature: an allele-group donor is neither a sure match nor a sure mismatch."""
    calculator = LikelihoodCalculator(small_set(), parse_genotype(MC_PATIENT), ("A", "B", "DRB1"))
    got = calculator.against(parse_genotype(DONORS[0]))
    assert got.full is not None and 0.0 < got.full < 1.0


def test_randomised_cases_from_the_synthetic_table_equal_brute_force() -> None:
    """Random small sets drawn from the synthetic registry's haplotypes, typings degraded at random."""
    rng = random.Random(7)
    table = synthetic_haplotypes()
    for _ in range(6):
        records = rng.sample(table, 7)
        haplotypes = HaplotypeSet.from_records(records)
        genotypes = []
        for _ in range(4):
            (h1, _), (h2, _) = rng.choice(records), rng.choice(records)
            cells = {}
            for locus in LOCI5:
                roll = rng.random()
                if roll < 0.2 and locus in ("C", "DQB1"):
                    continue  # untyped
                if roll < 0.5:
                    cells[locus] = (f"{locus}*{h1[locus][:2]}", f"{locus}*{h2[locus][:2]}")
                else:
                    cells[locus] = (f"{locus}*{h1[locus]}", f"{locus}*{h2[locus]}")
            genotypes.append(parse_genotype(cells))
        for patient, donor in itertools.product(genotypes, repeat=2):
            expected = brute_force(records, patient, donor)
            got = LikelihoodCalculator(haplotypes, patient, ("A", "B", "C", "DRB1")).against(donor)
            for level, value in expected.items():
                assert got.levels[level] == pytest.approx(value, abs=1e-12)


def test_likelihood_agrees_with_a_monte_carlo_sample_of_diplotypes() -> None:
    """Draw patient and donor diplotypes from the set (two haplotypes each, independently, by frequency);
    among draws consistent with both typings, the share that match estimates the probability."""
    haplotypes = small_set()
    patient, donor = parse_genotype(MC_PATIENT), parse_genotype(DONORS[0])
    got = LikelihoodCalculator(haplotypes, patient, ("A", "B", "C", "DRB1")).against(donor)
    records = [h for h, _ in SMALL]
    n = len(records)
    frequency = np.array([f for _, f in SMALL]) / sum(f for _, f in SMALL)
    patient_ok = np.array([[consistent(patient, records[a], records[b]) for b in range(n)] for a in range(n)])
    donor_ok = np.array([[consistent(donor, records[a], records[b]) for b in range(n)] for a in range(n)])
    rng = np.random.default_rng(11)
    p1, p2, d1, d2 = rng.choice(n, size=(4, 2_000_000), p=frequency)
    kept = patient_ok[p1, p2] & donor_ok[d1, d2]
    assert kept.sum() > 10_000
    for level, loci in (("6/6", LEVEL_LOCI["6/6"]), ("10/10", LOCI5)):
        same = np.array(
            [
                [
                    all(
                        expressed(records[a][x], records[b][x]) == expressed(records[c][x], records[d][x])
                        for x in loci
                    )
                    for c, d in itertools.product(range(n), repeat=2)
                ]
                for a, b in itertools.product(range(n), repeat=2)
            ]
        )
        matched = same[(p1 * n + p2)[kept], (d1 * n + d2)[kept]]
        estimate = float(matched.mean())
        expected = got.levels[level]
        assert expected is not None and 0.0 < expected < 1.0
        error = 4.5 * np.sqrt(expected * (1 - expected) / kept.sum())
        assert abs(estimate - expected) < error, (level, estimate, expected)


def test_identical_high_resolution_typings_match_for_certain_and_different_proteins_never() -> None:
    haplotypes = small_set()
    patient = parse_genotype(PATIENTS[0])
    calculator = LikelihoodCalculator(haplotypes, patient, ("A", "B", "C", "DRB1", "DQB1"))
    assert calculator.against(patient).levels == {"6/6": 1.0, "8/8": 1.0, "10/10": 1.0}
    other = parse_genotype("A*02:06+A*24:02^B*07:02+B*40:01^DRB1*15:01+DRB1*15:01")
    assert calculator.against(other).levels["6/6"] == 0.0


def test_a_typing_no_pair_of_haplotypes_explains_is_unrepresented_not_a_guess() -> None:
    haplotypes = small_set()
    calculator = LikelihoodCalculator(haplotypes, parse_genotype(PATIENTS[1]), ("A", "B", "DRB1"))
    got = calculator.against(parse_genotype("A*68+A*68^B*07+B*08^DRB1*15+DRB1*03"))
    assert got.full is None and got.note == "donor unrepresented"
    assert got.as_dict()["6/6"] is None


def test_naive_enumeration_gives_the_same_probability() -> None:
    haplotypes = small_set()
    patient = parse_genotype(PATIENTS[1])
    calculator = LikelihoodCalculator(haplotypes, patient, ("A", "B", "C", "DRB1"))
    for donor_text in DONORS:
        donor = parse_genotype(donor_text)
        naive = naive_match_probability(haplotypes, patient, donor, ("A", "B", "C", "DRB1"))
        full = calculator.against(donor).full
        assert (naive is None) == (full is None)
        if naive is not None:
            assert full == pytest.approx(naive, abs=1e-12)


def test_the_loci_of_the_search_decide_the_full_match_probability() -> None:
    haplotypes = small_set()
    patient, donor = parse_genotype(PATIENTS[1]), parse_genotype(DONORS[3])
    six = LikelihoodCalculator(haplotypes, patient, ("A", "B", "DRB1")).against(donor)
    ten = LikelihoodCalculator(haplotypes, patient, LOCI5).against(donor)
    assert six.full == six.levels["6/6"] and ten.full == ten.levels["10/10"]
    assert ten.full is not None and six.full is not None and ten.full <= six.full


# -- reading frequency files -----------------------------------------------------------------------------
def write_nmdp(path: Path, extra_population: bool = False) -> None:
    header = "A~C~B~DRB1~DQB1,EUR_freq,EUR_rank" + (",CHI_freq" if extra_population else "")
    lines = ["# test file", header]
    for rank, (h, f) in enumerate(SMALL, start=1):
        names = "~".join(f"{locus}*{h[locus]}g" for locus in ("A", "C", "B", "DRB1", "DQB1"))
        lines.append(f"{names},{f},{rank}" + (f",{f / 2 if rank % 2 else 0}" if extra_population else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_nmdp_table_and_atlas_json_read_to_the_same_set(tmp_path: Path) -> None:
    write_nmdp(tmp_path / "hf.csv")
    atlas = {
        "nomenclatureVersion": "3.33.0",
        "populationId": 1,
        "frequencies": [
            {"a": h["A"], "b": h["B"], "c": h["C"], "drb1": h["DRB1"], "dqb1": h["DQB1"], "frequency": f}
            for h, f in SMALL
        ],
    }
    (tmp_path / "hf.json.gz").write_bytes(gzip.compress(json.dumps(atlas).encode()))
    from_csv = load_haplotypes(tmp_path / "hf.csv")
    from_json = load_haplotypes(tmp_path / "hf.json.gz")
    patient = parse_genotype(PATIENTS[1])
    for donor_text in DONORS:
        donor = parse_genotype(donor_text)
        a = LikelihoodCalculator(from_csv, patient, LOCI5).against(donor)
        b = LikelihoodCalculator(from_json, patient, LOCI5).against(donor)
        c = LikelihoodCalculator(small_set(), patient, LOCI5).against(donor)
        assert a.levels == pytest.approx(b.levels) and a.levels == pytest.approx(c.levels)
    assert from_csv.population == "EUR" and from_csv.loci == LOCI5


def test_a_population_column_is_chosen_by_name_and_unknown_ones_refused(tmp_path: Path) -> None:
    write_nmdp(tmp_path / "hf.tsv", extra_population=True)
    chosen = load_haplotypes(tmp_path / "hf.tsv", population="CHI")
    assert len(chosen) == 5  # rows with a zero frequency are not haplotypes of that population
    with pytest.raises(ReferenceFileError, match="population 'XX' not in the file: EUR, CHI"):
        load_haplotypes(tmp_path / "hf.tsv", population="XX")


def test_a_malformed_frequency_file_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("A~B~DRB1,EUR_freq\nA*01:01~B*08:01~DRB1*03:01,abc\n", encoding="utf-8")
    with pytest.raises(ReferenceFileError, match="row 2: frequency 'abc' is not a number"):
        load_haplotypes(path)


def test_unknown_alleles_drop_their_haplotype_and_are_counted() -> None:
    reference = synthetic_reference()
    with_list = type(reference)(alleles={locus: frozenset({"01:01", "02:01"}) for locus in LOCI5})
    records = [
        ({"A": "01:01", "B": "01:01", "DRB1": "02:01"}, 0.5),
        ({"A": "77:01", "B": "01:01", "DRB1": "02:01"}, 0.5),
    ]
    haplotypes = HaplotypeSet.from_records(records, with_list)
    assert len(haplotypes) == 1 and haplotypes.dropped == 1
    assert haplotypes.frequency.tolist() == [1.0]
