from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hla import (
    Genotype,
    Grade,
    HlaIndex,
    IndexStateError,
    Member,
    Reference,
    grade,
    parse_genotype,
    rank_key,
)
from hla.synthetic import Population, generate, synthetic_reference

LOCI_8 = ("A", "B", "C", "DRB1")
LOCI_10 = ("A", "B", "C", "DRB1", "DQB1")


def brute_force(
    patient: Genotype, members: list[Member], loci: tuple[str, ...], max_mismatches: int, limit: int
) -> tuple[int, list[tuple[int, object]]]:
    """The specification: grade everyone with the pure-Python grader, filter, rank."""
    graded = [(m, grade(patient, m.genotype, loci)) for m in members]
    kept = [
        (rank_key(r, m.sort_key, m.registered, m.key), m.key, r)
        for m, r in graded
        if r.mismatches <= max_mismatches
    ]
    kept.sort(key=lambda row: row[0])
    return len(kept), [(key, result) for _, key, result in kept[:limit]]


def searched(
    index: HlaIndex, patient: Genotype, loci: tuple[str, ...], max_mismatches: int, limit: int
) -> tuple[int, list[tuple[int, object]]]:
    found = index.search(patient, loci=loci, max_mismatches=max_mismatches, limit=limit)
    return found.total, [(hit.key, hit.result) for hit in found.hits]


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(1500, seed=21)


@pytest.fixture(scope="module")
def patients() -> list[Genotype]:
    high = generate(12, seed=22, patients=True)
    registry_style = generate(30, seed=23)  # low resolution, MACs, nulls: keep those typed at A, B, C, DRB1
    others = [registry_style.genotype(i) for i in range(30)]
    return [high.genotype(i) for i in range(12)] + [g for g in others if all(g.typed(x) for x in LOCI_8)][:8]


def test_search_equals_brute_force_grading(population: Population, patients: list[Genotype]) -> None:
    members = population.members()
    index = HlaIndex.build(members, population.reference)
    for number, patient in enumerate(patients):
        loci = LOCI_10 if number % 3 == 0 and patient.typed("DQB1") else LOCI_8
        for allowance in (0, 1, 2, 3):
            assert searched(index, patient, loci, allowance, 15) == brute_force(
                patient, members, loci, allowance, 15
            ), (number, allowance)


def test_incremental_updates_and_save_load_keep_results_exact(
    population: Population, patients: list[Genotype], tmp_path: Path
) -> None:
    members = population.members()
    index = population.index()  # bulk path (from_columns)
    rng = np.random.default_rng(5)
    extra = generate(300, seed=24)
    removed = {members[i].key for i in rng.choice(len(members), 200, replace=False)}
    for key in removed:
        index.remove(key)
    survivors = [m for m in members if m.key not in removed]
    updated = []
    for i, member in enumerate(survivors[:150]):  # new typing and an older donor
        changed = member._replace(sort_key=member.sort_key + 7, genotype=extra.genotype(i))
        index.update(changed)
        updated.append(changed)
    added = [m._replace(key=m.key + 10_000_000) for m in extra.members()[150:]]
    for member in added:
        index.add(member)
    current = updated + survivors[150:] + added
    assert len(index) == len(current)

    def check(candidate: HlaIndex) -> None:
        for patient in patients[:8]:
            for allowance in (0, 2):
                assert searched(candidate, patient, LOCI_8, allowance, 12) == brute_force(
                    patient, current, LOCI_8, allowance, 12
                )

    check(index)
    path = tmp_path / "hla-index.npz"
    index.save(path)
    loaded = HlaIndex.load(path, population.reference)
    check(loaded)
    check(index)  # save compacts: still exact
    assert loaded.nbytes / len(loaded) < 64


def test_keys_must_be_unique_and_known(population: Population) -> None:
    index = population.index()
    member = population.member(0)
    with pytest.raises(IndexStateError, match="unique"):
        index.add(member)
    with pytest.raises(IndexStateError, match="not in the index"):
        index.remove(-1)
    index.remove(member.key)
    assert member.key not in index
    index.add(member)
    assert member.key in index


def test_load_refuses_other_reference_tables(population: Population, tmp_path: Path) -> None:
    path = tmp_path / "index.npz"
    population.index().save(path)
    with pytest.raises(IndexStateError, match="rebuild the index"):
        HlaIndex.load(path, Reference())
    with pytest.raises(IndexStateError, match="not an HLA index"):
        HlaIndex.load(tmp_path / "missing.npz", synthetic_reference())


def test_ties_rank_by_sort_key_then_registration_then_key() -> None:
    patient = parse_genotype("A*02:01+A*24:02^B*07:02+B*08:01^DRB1*15:01+DRB1*04:01")
    twin = parse_genotype("A*02:01+A*24:02^B*07:02+B*08:01^DRB1*15:01+DRB1*04:01")
    members = [Member(5, 30, 2, twin), Member(4, 30, 1, twin), Member(3, 25, 9, twin), Member(2, 30, 1, twin)]
    index = HlaIndex.build(members)
    index.add(Member(1, 25, 9, twin))  # in the unsorted tail
    found = index.search(patient, loci=("A", "B", "DRB1"), limit=4)
    assert [hit.key for hit in found.hits] == [1, 3, 2, 4]
    assert found.total == 5


def test_search_validates_its_arguments(population: Population) -> None:
    index = population.index()
    patient = parse_genotype("A*02:01+A*24:02^B*07:02+B*08:01^DRB1*15:01+DRB1*04:01")
    with pytest.raises(IndexStateError, match="negative"):
        index.search(patient, loci=("A", "B", "DRB1"), max_mismatches=-1)
    # Issue 13 item 7: a patient untyped at a requested locus is searched (potential there), not refused.
    found = index.search(patient, loci=LOCI_8, max_mismatches=6, limit=5)
    assert found.patient_untyped == ("C",) and found.total > 0
    assert all(hit.result.by_locus["C"] == (Grade.POTENTIAL, Grade.POTENTIAL) for hit in found.hits)
    assert all(hit.result.patient_untyped == ("C",) for hit in found.hits)


def test_search_of_an_index_without_members_is_empty_not_an_error(population: Population) -> None:
    patient = population.genotype(0)
    found = HlaIndex.build([], population.reference).search(patient, loci=LOCI_8, max_mismatches=2)
    assert (found.total, found.hits) == (0, ())


def test_search_after_every_member_was_withdrawn_and_compacted_is_empty(population: Population) -> None:
    members = population.members()[:5]
    index = HlaIndex.build(members, population.reference)
    for member in members:
        index.remove(member.key)
    assert index.search(members[0].genotype, loci=LOCI_8).total == 0
    index.compact()
    found = index.search(members[0].genotype, loci=LOCI_8, max_mismatches=2)
    assert (len(index), found.total, found.hits) == (0, 0, ())
