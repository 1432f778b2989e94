"""Benchmark the match likelihood (issue 13 item 8) for the top candidates of a search, beside a naive
per-candidate enumeration in the same run.

    python bench/hla_likelihood.py --members 1000000 --queries 10 --top 100

For each patient: an index search (``--top`` best within the allowance), then P(6/6, 8/8, 10/10) for
every hit with :class:`hla.likelihood.LikelihoodCalculator` (a fresh one per patient: no cache carried
between patients), then the same probability with :func:`hla.likelihood.naive_match_probability` (plain
Python: each candidate's haplotype pairs enumerated one by one). Both read the synthetic registry's own
haplotype table (hla.synthetic: 4,000 haplotypes A~C~B~DRB1~DQB1); the largest difference between the
two is printed, so the speed-up is between equal answers. Building the hits' genotypes is outside both
timings (the service reads them from the database).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hla import HlaIndex
from hla.likelihood import HaplotypeSet, LikelihoodCalculator, naive_match_probability
from hla.synthetic import Population, generate, synthetic_haplotypes, synthetic_reference

SCENARIOS = [
    ("8/8, <= 2 mismatches", ("A", "B", "C", "DRB1"), 2, 0.15),
    ("10/10, <= 2 mismatches", ("A", "B", "C", "DRB1", "DQB1"), 2, 0.15),
    ("8/8, <= 1, low-res registry", ("A", "B", "C", "DRB1"), 1, 0.6),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--naive-queries", type=int, default=5, help="patients also run naively (slow)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    reference = synthetic_reference()
    start = time.perf_counter()
    haplotypes = HaplotypeSet.from_records(synthetic_haplotypes(), reference, source="synthetic")
    print(f"haplotype set: {len(haplotypes):,} haplotypes, read in {time.perf_counter() - start:.2f} s")
    patients = generate(args.queries, seed=args.seed + 1000, reference=reference, patients=True)
    print(
        f"{'scenario':<30}{'hits':>6}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}"
        f"{'naive ms':>11}{'speed-up':>10}{'max |diff|':>12}{'0<P<1':>7}"
    )
    populations: dict[float, tuple[Population, HlaIndex, dict[int, int]]] = {}
    for label, loci, allowance, low in SCENARIOS:
        if low not in populations:
            population = generate(args.members, seed=args.seed, reference=reference, low_resolution=low)
            rows = {int(k): r for r, k in enumerate(population.keys.tolist())}
            populations[low] = (population, population.index(), rows)
        population, index, rows = populations[low]
        fast, naive, diffs, hits, between = [], [], [], [], 0
        for q in range(args.queries):
            patient = patients.genotype(q)
            found = index.search(patient, loci=loci, max_mismatches=allowance, limit=args.top)
            donors = [population.genotype(rows[hit.key]) for hit in found.hits]
            hits.append(len(donors))
            begin = time.perf_counter()
            calculator = LikelihoodCalculator(haplotypes, patient, loci)
            results = [calculator.against(donor) for donor in donors]
            fast.append((time.perf_counter() - begin) * 1e3)
            between += sum(1 for r in results if r.full is not None and 0.0 < r.full < 1.0)
            if q < args.naive_queries:
                begin = time.perf_counter()
                slow = [naive_match_probability(haplotypes, patient, donor, loci) for donor in donors]
                naive.append((time.perf_counter() - begin) * 1e3)
                diffs += [abs((r.full or 0.0) - (s or 0.0)) for r, s in zip(results, slow, strict=True)]
                assert all((r.full is None) == (s is None) for r, s in zip(results, slow, strict=True))
        median_fast = statistics.median(fast)
        median_naive = statistics.median(naive)
        print(
            f"{label:<30}{statistics.median(hits):>6.0f}{median_fast:>11.1f}"
            f"{float(np.percentile(fast, 95)):>9.1f}{max(fast):>9.1f}{median_naive:>11.0f}"
            f"{median_naive / median_fast:>9.0f}x{max(diffs, default=0.0):>12.1e}{between:>7}"
        )


if __name__ == "__main__":
    main()
