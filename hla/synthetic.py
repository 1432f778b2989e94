"""A deterministic synthetic registry for tests and benchmarks (no real person's data).

Shape, not real frequencies: allele groups and proteins follow Zipf-like (skewed) frequencies, members
inherit two haplotypes drawn from a skewed haplotype table, so loci are linked and homozygosity is as
common as in a registry of one population. Members are typed at mixed resolution, as registries
recruited over decades are: high resolution; intermediate (NMDP codes or '/' ambiguities); low
(allele group, ``XX`` or serology); some loci untyped (C, DQB1, DPB1 were often not typed at
recruitment); a few null alleles. :func:`generate` draws a million members in about a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from string import ascii_uppercase

import numpy as np
import numpy.typing as npt

from hla.genotype import Genotype
from hla.index import HlaIndex, Member
from hla.nomenclature import LOCI, Kind, Typing, parse_typing, untyped
from hla.reference import Reference

__all__ = ["Population", "generate", "synthetic_haplotypes", "synthetic_reference"]

I64 = npt.NDArray[np.int64]

_GROUPS: dict[str, tuple[int, ...]] = {
    "A": (1, 2, 3, 11, 23, 24, 25, 26, 29, 30, 31, 32, 33, 34, 66, 68, 69, 74, 80),
    "B": (
        7,
        8,
        13,
        14,
        15,
        18,
        27,
        35,
        37,
        38,
        39,
        40,
        41,
        42,
        44,
        45,
        46,
        47,
        48,
        49,
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
        59,
        67,
        73,
        78,
        81,
        82,
    ),
    "C": (1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 17, 18),
    "DRB1": (1, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
    "DQB1": (2, 3, 4, 5, 6),
    "DPB1": (1, 2, 3, 4, 5, 6, 9, 10, 11, 13, 14, 17, 19, 104, 105),
}
_HAPLOTYPES = 4000
_CODES = ["".join(letters) for letters in product(ascii_uppercase, repeat=2)]


@dataclass(frozen=True, slots=True)
class _Pool:
    """The expressed alleles and one null of a locus, with their frequencies."""

    names: tuple[str, ...]  # "02:01" ...; the last one is the null
    groups: tuple[str, ...]
    frequency: npt.NDArray[np.float64]


def _zipf(rng: np.random.Generator, n: int, exponent: float) -> npt.NDArray[np.float64]:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return np.asarray(rng.permutation(weights / weights.sum()), dtype=np.float64)


def _pools(seed: int) -> dict[str, _Pool]:
    rng = np.random.default_rng(seed)
    pools = {}
    for locus, groups in _GROUPS.items():
        names: list[str] = []
        owners: list[str] = []
        frequency: list[float] = []
        for group, weight in zip(groups, _zipf(rng, len(groups), 1.1), strict=True):
            count = int(rng.integers(3, 16))
            for protein, share in enumerate(_zipf(rng, count, 1.6), start=1):
                names.append(f"{group:02d}:{protein:02d}")
                owners.append(f"{group:02d}")
                frequency.append(weight * share * 0.998)
        null_group = f"{groups[min(5, len(groups) - 1)]:02d}"
        names.append(f"{null_group}:99N")  # WHO: N = null allele
        owners.append(null_group)
        frequency.append(0.002)
        pools[locus] = _Pool(tuple(names), tuple(owners), np.array(frequency) / sum(frequency))
    return pools


def synthetic_reference(tables: Reference | None = None) -> Reference:
    """NMDP-style codes and P groups for the synthetic alleles (no allele list: nothing is unknown).

    With ``tables`` (e.g. the shipped IPD-IMGT/HLA release), its P groups, serology and history are used
    instead of made-up P groups, with the synthetic codes added; its allele list is left out, so
    synthetic names the release lacks (``02:99N``) still parse and fall back to the first field."""
    pools = _pools(0)
    if tables is not None:
        return Reference(
            p_groups=tables.p_groups,
            g_groups=tables.g_groups,
            serology=tables.serology,
            splits=tables.splits,
            mac=dict(synthetic_reference().mac),
            tce=tables.tce,
            allele_serology=tables.allele_serology,
            associated=tables.associated,
            release=tables.release,
            fingerprint=f"synthetic+{tables.fingerprint}",
        )
    mac: dict[str, tuple[str, ...]] = {}
    p_groups: dict[str, dict[str, tuple[str, ...]]] = {}
    for locus, pool in pools.items():
        # WMDA P groups: every 7th protein shares its antigen-recognition domain with the next one.
        groups = p_groups.setdefault(locus, {})
        for first, second in zip(pool.names[:-2], pool.names[1:-1], strict=True):
            if first[:2] == second[:2] and int(first[-2:]) % 7 == 0:
                groups[f"{first}P"] = (f"{first}:01:01", second)
    for index, (a, b) in enumerate(product(range(1, 6), range(2, 9))):
        if a < b:
            mac[_CODES[index]] = (f"{a:02d}", f"{b:02d}")
    return Reference(mac=mac, p_groups=p_groups, fingerprint="synthetic")


@dataclass(frozen=True)
class Population:
    """Members as arrays: ``columns[locus]`` holds two arrays of ids into ``typings[locus]``."""

    keys: I64
    sort_keys: I64
    registered: I64
    typings: dict[str, list[Typing]]
    columns: dict[str, tuple[I64, I64]]
    reference: Reference

    def __len__(self) -> int:
        return len(self.keys)

    def genotype(self, row: int) -> Genotype:
        pairs = {}
        for locus, (first, second) in self.columns.items():
            a, b = self.typings[locus][first[row]], self.typings[locus][second[row]]
            if a.kind is not Kind.UNTYPED:
                pairs[locus] = (a, b)
        return Genotype.of(pairs)

    def member(self, row: int) -> Member:
        return Member(
            int(self.keys[row]), int(self.sort_keys[row]), int(self.registered[row]), self.genotype(row)
        )

    def members(self) -> list[Member]:
        return [self.member(row) for row in range(len(self))]

    def index(self) -> HlaIndex:
        return HlaIndex.from_columns(
            self.keys, self.sort_keys, self.registered, self.typings, self.columns, self.reference
        )


def _catalogue(locus: str, pool: _Pool, reference: Reference) -> tuple[list[Typing], dict[str, I64]]:
    """Typings of one locus and, per resolution, the typing id each allele is written as."""
    texts: list[str] = []
    styles = ("high", "group", "xx", "serology", "ambiguous", "code")
    ids: dict[str, list[int]] = {name: [] for name in styles}

    def add(text: str) -> int:
        texts.append(text)
        return len(texts) - 1

    serology = {"A": "A", "B": "B", "C": "Cw", "DRB1": "DR", "DQB1": "DQ", "DPB1": "DPw"}[locus]
    codes = {v: k for k, v in reference.mac.items()}
    for position, (name, group) in enumerate(zip(pool.names, pool.groups, strict=True)):
        long_name = position % 3 == 0 and not name.endswith("N")  # some written with 4 fields
        high = add(f"{locus}*{name}:01:01" if long_name else f"{locus}*{name}")
        ids["high"].append(high)
        if name.endswith("N"):  # a null typed at low resolution is not seen as null
            for kind in ("group", "xx", "serology", "ambiguous", "code"):
                ids[kind].append(high)
            continue
        ids["group"].append(add(f"{locus}*{group}"))
        ids["xx"].append(add(f"{locus}*{group}:XX"))
        antigen = str(int(group))
        named = antigen in reference.serology.get(locus, {}) or antigen in reference.splits.get(locus, {})
        if reference.has_serology and not named:  # with real tables only antigens WMDA lists (no Cw12)
            ids["serology"].append(ids["xx"][-1])
        else:
            ids["serology"].append(add(f"{serology}{antigen}"))
        protein = int(name.split(":")[1])
        other = protein + 1 if protein < 3 else protein - 1
        ids["ambiguous"].append(add(f"{locus}*{name}/{group}:{other:02d}"))
        code = codes.get((f"{min(protein, other):02d}", f"{max(protein, other):02d}"))
        ids["code"].append(add(f"{locus}*{group}:{code}") if code else ids["ambiguous"][-1])
    typings = [untyped(locus)] + [parse_typing(text, locus, reference) for text in texts]
    return typings, {kind: np.array(v, dtype=np.int64) + 1 for kind, v in ids.items()}


def _haplotype_table(pools: dict[str, _Pool]) -> tuple[dict[str, I64], npt.NDArray[np.float64]]:
    """The haplotype table every synthetic population draws from: allele ids per locus, frequencies."""
    structure = np.random.default_rng(12345)  # the haplotype table is shared by every population
    haplotypes = {
        locus: structure.choice(len(pool.names), size=_HAPLOTYPES, p=pool.frequency)
        for locus, pool in pools.items()
    }
    return haplotypes, _zipf(structure, _HAPLOTYPES, 0.9)


def synthetic_haplotypes(
    loci: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1"),
) -> list[tuple[dict[str, str], float]]:
    """The haplotypes :func:`generate` draws members from, as (locus -> allele, frequency) records over
    ``loci``: the exact frequency set of the synthetic registry (duplicates left for the reader to sum)."""
    pools = _pools(0)
    haplotypes, weights = _haplotype_table(pools)
    return [
        ({locus: pools[locus].names[int(haplotypes[locus][h])] for locus in loci}, float(weights[h]))
        for h in range(_HAPLOTYPES)
    ]


def generate(
    n: int,
    seed: int = 0,
    reference: Reference | None = None,
    *,
    patients: bool = False,
    low_resolution: float = 0.15,
    intermediate: float = 0.2,
) -> Population:
    """``n`` members (or, with ``patients``, high-resolution patients typed at every locus)."""
    ref = reference if reference is not None else synthetic_reference()
    pools = _pools(0)
    rng = np.random.default_rng(seed)
    haplotypes, weights = _haplotype_table(pools)
    chosen = rng.choice(_HAPLOTYPES, size=(2, n), p=weights)
    resolution = rng.random(n)
    typings: dict[str, list[Typing]] = {}
    columns: dict[str, tuple[I64, I64]] = {}
    for locus, pool in pools.items():
        catalogue, ids = _catalogue(locus, pool, ref)
        typings[locus] = catalogue
        pair = []
        for side in range(2):
            allele = haplotypes[locus][chosen[side]]
            column = ids["high"][allele]
            if not patients:
                low = resolution < low_resolution
                mid = (resolution >= low_resolution) & (resolution < low_resolution + intermediate)
                style = rng.random(n)
                low_id = np.where(
                    style < 0.5,
                    ids["group"][allele],
                    np.where(style < 0.75, ids["xx"][allele], ids["serology"][allele]),
                )
                mid_id = np.where(style < 0.5, ids["code"][allele], ids["ambiguous"][allele])
                column = np.where(low, low_id, np.where(mid, mid_id, column))
            pair.append(column)
        if not patients:
            missing = {"A": 0.0, "B": 0.0, "DRB1": 0.0, "C": 0.1, "DQB1": 0.2, "DPB1": 0.6}[locus]
            untyped_rows = rng.random(n) < missing * (1.0 + (resolution < low_resolution))
            pair = [np.where(untyped_rows, 0, column) for column in pair]
        columns[locus] = (pair[0], pair[1])
    keys = rng.permutation(n).astype(np.int64) + 1_000_000
    sort_keys = rng.integers(18, 61, size=n).astype(np.int64)  # age in years: many ties, as in life
    registered = rng.integers(0, max(1, n // 4), size=n).astype(np.int64)
    return Population(keys, sort_keys, registered, typings, {locus: columns[locus] for locus in LOCI}, ref)
