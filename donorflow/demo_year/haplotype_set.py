"""The demo's haplotype-frequency set (hla/data/haplotypes-demo-synthetic.csv.gz): SYNTHETIC, the demo
registry's own generative model (donorflow.demo_year.people) written in NMDP's table layout, so the match
likelihood has a set to read in the demo and in tests. Not an estimate from any population.

    python -m donorflow.demo_year.haplotype_set   # rewrites the shipped file (deterministic bytes)
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np

from donorflow.demo_year import people

__all__ = ["KEPT", "SHIPPED", "build"]

SHIPPED = Path(__file__).resolve().parents[2] / "hla" / "data" / "haplotypes-demo-synthetic.csv.gz"
KEPT = 4000
"""The most frequent haplotypes kept: a small file; the reader renormalises what it reads."""
_FILE_ORDER = ("A", "C", "B", "DRB1")  # NMDP's column order (A~C~B~DRB1~DQB1)


def build() -> bytes:
    loci = people.LOCI
    shares = {}
    for locus in loci:
        weights = np.array([w for _, w in people._ALLELES[locus]], dtype=np.float64)
        shares[locus] = weights / weights.sum()
    # people._haplotype: with _HAPLOTYPE_SHARE one of the common haplotypes, else alleles drawn apart.
    frequency = np.einsum("a,b,c,d->abcd", *(shares[locus] for locus in loci)).ravel()
    frequency *= 1 - people._HAPLOTYPE_SHARE
    sizes = [len(shares[locus]) for locus in loci]
    common = people._HAPLOTYPE_SHARE / len(people._HAPLOTYPE_IDS)
    for haplotype in people._HAPLOTYPE_IDS:
        frequency[np.ravel_multi_index(haplotype, sizes)] += common
    order = np.argsort(-frequency, kind="stable")[:KEPT]
    combos = list(itertools.product(*(range(size) for size in sizes)))
    kept_mass = float(frequency[order].sum())
    lines = [
        "# SYNTHETIC haplotype frequencies, NOT estimated from any population: the donorflow demo registry's",
        "# own model (donorflow/demo_year/people.py: 22 % four common northern-Han haplotypes, otherwise",
        "# alleles drawn apart by the demo's rough Han allele frequencies), written by",
        "# `python -m donorflow.demo_year.haplotype_set` in NMDP's table layout (haplotype column",
        f"# A~C~B~DRB1, <population>_freq / _rank). The {KEPT} most frequent of {len(frequency)} haplotypes, "
        f"{100 * kept_mass:.1f} % of the mass;",
        "# readers renormalise. Part of donorflow, under the project's licence. For tests and the demo only.",
        "A~C~B~DRB1,DEMO_freq,DEMO_rank",
    ]
    for rank, k in enumerate(order.tolist(), start=1):
        alleles = dict(zip(loci, combos[k], strict=True))
        names = "~".join(people._NAMES[locus][alleles[locus]] for locus in _FILE_ORDER)
        lines.append(f"{names},{frequency[k]:.6e},{rank}")
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


if __name__ == "__main__":
    SHIPPED.write_bytes(build())
