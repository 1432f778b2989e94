"""The shipped haplotype-frequency set: synthetic, labelled so, reproducible, and readable."""

from __future__ import annotations

import gzip

from donorflow.demo_year.haplotype_set import KEPT, build
from hla import parse_genotype
from hla.likelihood import SHIPPED_HAPLOTYPES, LikelihoodCalculator, load_haplotypes


def test_the_shipped_set_is_what_its_generator_writes_and_says_it_is_synthetic() -> None:
    shipped = SHIPPED_HAPLOTYPES.read_bytes()
    assert shipped == build()
    assert gzip.decompress(shipped).decode().startswith("# SYNTHETIC haplotype frequencies, NOT estimated")


def test_the_shipped_set_reads_and_scores_a_demo_patient() -> None:
    haplotypes = load_haplotypes(SHIPPED_HAPLOTYPES)
    assert len(haplotypes) == KEPT and haplotypes.population == "DEMO"
    assert haplotypes.loci == ("A", "B", "C", "DRB1") and abs(haplotypes.frequency.sum() - 1) < 1e-12
    # The demo's commonest haplotype twice over, and a donor typed at allele-group level at A.
    patient = parse_genotype("A*11:01+A*11:01^B*40:01+B*40:01^C*07:02+C*07:02^DRB1*15:01+DRB1*15:01")
    donor = parse_genotype("A*11+A*11^B*40:01+B*40:01^C*07:02+C*07:02^DRB1*15:01+DRB1*15:01")
    got = LikelihoodCalculator(haplotypes, patient, ("A", "B", "C", "DRB1")).against(donor)
    assert got.levels["10/10"] is None  # the set has no DQB1
    assert got.full is not None and 0.99 < got.full <= 1.0  # A*11:01 is the demo's only A*11 allele
