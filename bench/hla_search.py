"""Benchmark the HLA index against a straightforward SQL scoring query on the same synthetic registry.

    python bench/hla_search.py --members 1000000 --queries 200 --sql-members 100000

Prints index build time, bytes per member, median/p95 latency of 8/8 searches with 0, 1 and 2
mismatches and 10/10 with 1, and the same searches through SQLite (in memory, one column per locus
position holding group and protein ids, a CASE scoring query). SQLite runs on ``--sql-members`` rows;
its latency is scaled linearly to ``--members`` for the ratio (a full scan is linear in rows).
The SQL baseline treats ambiguous typings as group-level, so it is a speed reference, not a grader.

``--tables shipped`` (the default) grades with the IPD-IMGT/HLA release shipped in the package, as
donorflow does by default (serology, P groups; the synthetic NMDP codes added): it first prints the
tables' load time parsed from the gzip text, with the cache written, and read back from the cache.
``--tables synthetic`` uses the made-up P groups only (the figures before issue 13). With the shipped
tables the same searches also run, in the same run and interleaved query by query, on a registry built
with no tables (``--no-baseline`` skips it): the "no tables ms" column and the ratio are the tables' cost.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time

import numpy as np

from hla import LOCI, SHIPPED_DIR, Genotype, HlaIndex, Kind, Reference, Typing, load_reference
from hla.grading import expressed_pair
from hla.synthetic import Population, generate, synthetic_reference

TWELVE = ("A", "B", "C", "DRB1", "DQB1", "DPB1")
SCENARIOS = [  # label, loci, mismatches allowed, DPB1 counted
    ("8/8, 0 mismatches", ("A", "B", "C", "DRB1"), 0, True),
    ("8/8, 1 mismatch", ("A", "B", "C", "DRB1"), 1, True),
    ("8/8, 2 mismatches", ("A", "B", "C", "DRB1"), 2, True),
    ("10/10, 1 mismatch", ("A", "B", "C", "DRB1", "DQB1"), 1, True),
    # Issue 13 item 6: DPB1 ranks by TCE permissiveness, counted (12/12) or graded apart (10/10 + DPB1).
    ("12/12, 2 mismatches", TWELVE, 2, True),
    ("10/10+DPB1 apart, 1", TWELVE, 1, False),
]


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share))


class SqlBaseline:
    """One row per member, ``<locus>_<1|2>_g`` / ``_p`` = allele group id / protein id (NULL if unknown)."""

    def __init__(self, population: Population, rows: int) -> None:
        self.groups: dict[str, dict[str, int]] = {locus: {} for locus in LOCI}
        self.proteins: dict[str, dict[str, int]] = {locus: {} for locus in LOCI}
        self.db = sqlite3.connect(":memory:")
        columns = [f"{locus}_{side}_{kind}" for locus in LOCI for side in (1, 2) for kind in "gp"]
        self.db.execute(
            "CREATE TABLE member (key INTEGER PRIMARY KEY, sort_key INTEGER, registered INTEGER, "
            f"{', '.join(c + ' INTEGER' for c in columns)})"
        )
        records = []
        for row in range(rows):
            values: list[int | None] = [
                int(population.keys[row]),
                int(population.sort_keys[row]),
                int(population.registered[row]),
            ]
            for locus in LOCI:
                first, second = population.columns[locus]
                a, b = expressed_pair(
                    population.typings[locus][first[row]], population.typings[locus][second[row]]
                )
                for typing in (a, b):
                    values.extend(self.ids(locus, typing))
            records.append(values)
        marks = ", ".join("?" * (3 + len(columns)))
        self.db.executemany(f"INSERT INTO member VALUES ({marks})", records)

    def ids(self, locus: str, typing: Typing) -> tuple[int | None, int | None]:
        if typing.kind is not Kind.EXPRESSED or len(typing.allele_groups) != 1:
            return None, None  # untyped, null or cross-group ambiguity: unknown here
        group = self.groups[locus].setdefault(next(iter(typing.allele_groups)), len(self.groups[locus]))
        if not typing.confirmed:
            return group, None
        protein = self.proteins[locus].setdefault(next(iter(typing.proteins)), len(self.proteins[locus]))
        return group, protein

    def search(self, patient: Genotype, loci: tuple[str, ...], allowance: int, limit: int) -> list[int]:
        terms, params = [], []

        def position(p: tuple[int | None, int | None], side: int, locus: str) -> str:
            params.extend([p[1], p[0]])
            g, q = f"{locus}_{side}_g", f"{locus}_{side}_p"
            return (
                f"(CASE WHEN {g} IS NULL THEN 0 WHEN {q} = ? THEN 0 WHEN {q} IS NULL AND {g} = ? THEN 0 "
                f"ELSE 1 END)"
            )

        for locus in loci:
            p1, p2 = (self.ids(locus, t) for t in expressed_pair(*patient[locus]))
            straight = f"{position(p1, 1, locus)} + {position(p2, 2, locus)}"
            crossed = f"{position(p1, 2, locus)} + {position(p2, 1, locus)}"
            terms.append(f"MIN({straight}, {crossed})")
        score = " + ".join(terms)
        sql = (
            f"SELECT key FROM (SELECT key, sort_key, registered, {score} AS mm FROM member) "
            f"WHERE mm <= ? ORDER BY mm, sort_key, registered, key LIMIT ?"
        )
        return [row[0] for row in self.db.execute(sql, [*params, allowance, limit])]


def shipped_tables() -> Reference:
    """Load the shipped release three ways and print the times: text only, text + cache write, cache."""
    with tempfile.TemporaryDirectory() as cache:
        begin = time.perf_counter()
        load_reference(SHIPPED_DIR)
        parsed = time.perf_counter() - begin
        begin = time.perf_counter()
        load_reference(SHIPPED_DIR, cache_dir=cache)
        written = time.perf_counter() - begin
        warm = []
        for _ in range(5):
            begin = time.perf_counter()
            reference = load_reference(SHIPPED_DIR, cache_dir=cache)
            warm.append(time.perf_counter() - begin)
    print(
        f"reference tables IPD-IMGT/HLA {reference.release}: parse {parsed * 1e3:.0f} ms, "
        f"parse + cache write {written * 1e3:.0f} ms, "
        f"from cache median {statistics.median(warm) * 1e3:.0f} ms "
        f"({parsed / statistics.median(warm):.0f}x faster than parsing)"
    )
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sql-members", type=int, default=100_000)
    parser.add_argument("--sql-queries", type=int, default=20)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tables", choices=("shipped", "synthetic"), default="shipped")
    parser.add_argument("--no-baseline", action="store_true", help="skip the same searches without tables")
    args = parser.parse_args()

    reference = shipped_tables() if args.tables == "shipped" else None
    tables = synthetic_reference(reference) if reference is not None else synthetic_reference()
    start = time.perf_counter()
    population = generate(args.members, seed=args.seed, reference=tables)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    index = population.index()
    built = time.perf_counter() - start
    print(
        f"members: {len(index):,}  generate: {generated:.1f} s  index build: {built:.1f} s  "
        f"bytes/member: {index.nbytes / len(index):.1f}"
    )
    index.remove(int(population.keys[0]))  # builds the key lookup used by update/remove
    print(f"bytes/member with the key lookup for updates: {index.nbytes / len(index):.1f}")
    pairs = {locus: v.n_pairs for locus, v in index.vocabularies.items()}
    print(f"distinct typing pairs per locus: {pairs}")

    patients = generate(args.queries, seed=args.seed + 1000, reference=tables, patients=True)
    queries = [patients.genotype(i) for i in range(args.queries)]
    plain: tuple[HlaIndex, list[Genotype]] | None = None
    if reference is not None and not args.no_baseline:
        start = time.perf_counter()
        plain_tables = synthetic_reference()
        plain_index = generate(args.members, seed=args.seed, reference=plain_tables).index()
        plain_patients = generate(args.queries, seed=args.seed + 1000, reference=plain_tables, patients=True)
        plain = (plain_index, [plain_patients.genotype(i) for i in range(args.queries)])
        print(f"no-tables registry for the same-run baseline built in {time.perf_counter() - start:.1f} s")
    sql_rows = min(args.sql_members, args.members)
    start = time.perf_counter()
    baseline = SqlBaseline(population, sql_rows)
    print(
        f"SQLite baseline: {sql_rows:,} rows loaded in {time.perf_counter() - start:.1f} s; latency scaled "
        f"x{args.members / sql_rows:.1f} to {args.members:,} members"
    )
    extra = f"{'no tables ms':>14}{'ratio':>7}" if plain else ""
    header = f"{'search':<20}{'median ms':>11}{'p95 ms':>9}{'hits':>7}{'SQL ms (scaled)':>18}{'speed-up':>10}"
    print(header + extra)
    for label, loci, allowance, count_dpb1 in SCENARIOS:
        latencies, totals, without = [], [], []
        options = {"loci": loci, "max_mismatches": allowance, "limit": args.limit, "count_dpb1": count_dpb1}
        for number, patient in enumerate(queries):
            begin = time.perf_counter()
            found = index.search(patient, **options)
            latencies.append((time.perf_counter() - begin) * 1e3)
            totals.append(found.total)
            if plain is not None:  # interleaved, so that a busy machine slows both alike
                begin = time.perf_counter()
                plain[0].search(plain[1][number], **options)
                without.append((time.perf_counter() - begin) * 1e3)
        sql = []
        # The SQL baseline scores what counts (it has no TCE ranking: a speed reference, not a grader).
        sql_loci = loci if count_dpb1 else tuple(locus for locus in loci if locus != "DPB1")
        for patient in queries[: args.sql_queries]:
            begin = time.perf_counter()
            baseline.search(patient, sql_loci, allowance, args.limit)
            sql.append((time.perf_counter() - begin) * 1e3)
        scaled = statistics.median(sql) * args.members / sql_rows
        median = statistics.median(latencies)
        compared = ""
        if without:
            compared = f"{statistics.median(without):>14.2f}{median / statistics.median(without):>6.2f}x"
        print(
            f"{label:<20}{median:>11.2f}{percentile(latencies, 95):>9.2f}{statistics.median(totals):>7.0f}"
            f"{scaled:>18.0f}{scaled / median:>9.0f}x{compared}"
        )


if __name__ == "__main__":
    main()
