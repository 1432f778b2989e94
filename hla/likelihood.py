"""Match likelihood: the probability that a donor is a 6/6, 8/8 or 10/10 allele-level match, from a
haplotype-frequency set, for members (and patients) typed at low or ambiguous resolution.

The method is the one NMDP's HapLogic and ATLAS's match prediction publish (Gragert et al. 2013, Hum
Immunol 74:1313; ATLAS README_MatchPredictionAlgorithm): each genotype is expanded into the diplotypes
(ordered pairs of haplotypes of the set) consistent with its typing — at every typed locus one haplotype
carries an allele the first typing allows and the other one the second typing allows, either way round,
each locus on its own since typings are unphased — each weighted by the Hardy-Weinberg product of the two
haplotype frequencies. Then

    P(match over loci S) = sum over patient diplotypes p and donor diplotypes d of w(p) w(d) [p ~S d]
                           / (sum of w(p)) (sum of w(d))

where ``p ~S d`` means that at every locus of S the two alleles are the same proteins (the key grading
uses: the P group with IMGT tables, else the first two fields), a null allele taking its partner's
protein as in grading (WMDA/ATLAS). The double sum is computed as a dot product of the two phenotype
distributions (patient diplotypes grouped by their alleles over S), so a donor costs one pass over its
own diplotypes. A genotype no pair of the set's haplotypes explains is *unrepresented*: its
probabilities are ``None``, never a guess.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hla.errors import HlaError, ReferenceFileError
from hla.genotype import Genotype
from hla.nomenclature import LOCI, NO_REFERENCE, Kind, Typing
from hla.reference import Reference

__all__ = [
    "HAPLOTYPE_LOCI",
    "LEVELS",
    "SHIPPED_HAPLOTYPES",
    "HaplotypeSet",
    "LikelihoodCalculator",
    "MatchLikelihood",
    "load_haplotypes",
    "naive_match_probability",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

HAPLOTYPE_LOCI: tuple[str, ...] = ("A", "B", "C", "DRB1", "DQB1")
"""Loci a haplotype-frequency set may hold (NMDP and ATLAS publish A~C~B~DRB1~DQB1), in LOCI order."""

LEVELS: dict[str, tuple[str, ...]] = {
    "6/6": ("A", "B", "DRB1"),
    "8/8": ("A", "B", "C", "DRB1"),
    "10/10": ("A", "B", "C", "DRB1", "DQB1"),
}
"""The match levels reported (NMDP/CIBMTR): 6/6 A, B, DRB1; 8/8 with C; 10/10 with DQB1."""

SHIPPED_HAPLOTYPES = Path(__file__).resolve().parent / "data" / "haplotypes-demo-synthetic.csv.gz"
"""A SYNTHETIC set for tests and the demo (the demo registry's own model; see the file's header)."""

MAX_DIPLOTYPES = 4_000_000
"""Beyond this many consistent diplotypes a typing is too ambiguous to expand here (ATLAS caps too)."""

_FILE_LOCI = {"A": "A", "B": "B", "C": "C", "CW": "C", "DRB1": "DRB1", "DQB1": "DQB1"}


@dataclass(frozen=True, slots=True)
class HaplotypeAllele:
    """One allele as a frequency set names it, reduced to what matching compares."""

    name: str
    protein: str
    """The grading key: P group with IMGT P tables, else the first two fields."""
    group: str
    null: bool


@dataclass(frozen=True, eq=False)
class HaplotypeSet:
    """Haplotypes of one population: per locus an allele id per haplotype, and frequencies summing to 1."""

    loci: tuple[str, ...]
    alleles: Mapping[str, tuple[HaplotypeAllele, ...]]
    codes: Mapping[str, I64]
    frequency: F64
    population: str = ""
    source: str = ""
    """Where the set came from, shown beside every likelihood (a synthetic set says so)."""
    dropped: int = 0
    """Haplotypes left out because an allele is not in the loaded allele list."""
    _protein_codes: dict[str, I64] = field(default_factory=dict, init=False, repr=False)
    _nulls: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict, init=False, repr=False)
    _allowed: dict[tuple[str, Typing], npt.NDArray[np.bool_]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        for locus in self.loci:
            proteins: dict[str, int] = {}
            ids = [proteins.setdefault(a.protein, len(proteins)) for a in self.alleles[locus]]
            self._protein_codes[locus] = np.array(ids, dtype=np.int64)
            self._nulls[locus] = np.array([a.null for a in self.alleles[locus]], dtype=bool)

    def __len__(self) -> int:
        return len(self.frequency)

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[Mapping[str, str], float]],
        reference: Reference | None = None,
        *,
        population: str = "",
        source: str = "",
    ) -> HaplotypeSet:
        """From (locus -> allele name, frequency) records; duplicates (after reduction) are summed."""
        ref = reference if reference is not None else NO_REFERENCE
        loci: tuple[str, ...] | None = None
        seen: dict[str, dict[str, int]] = {}
        allele_list: dict[str, list[HaplotypeAllele]] = {}
        merged: dict[tuple[int, ...], float] = {}
        dropped = 0
        for names, frequency in records:
            if loci is None:
                loci = tuple(locus for locus in LOCI if locus in names)
                if not {"A", "B", "DRB1"} <= set(loci):
                    raise HlaError(f"a haplotype set needs A, B and DRB1; got {', '.join(names)}")
                seen = {locus: {} for locus in loci}
                allele_list = {locus: [] for locus in loci}
            if set(names) != set(loci):
                raise HlaError(f"haplotype loci {sorted(names)} differ from the set's {list(loci)}")
            if frequency < 0:
                raise HlaError(f"negative haplotype frequency {frequency}")
            reduced = [_reduce(locus, names[locus], ref) for locus in loci]
            if any(allele is None for allele in reduced):
                dropped += 1
                continue
            key = []
            for locus, allele in zip(loci, reduced, strict=True):
                assert allele is not None
                ids = seen[locus]
                if allele.name not in ids:
                    ids[allele.name] = len(ids)
                    allele_list[locus].append(allele)
                key.append(ids[allele.name])
            merged[tuple(key)] = merged.get(tuple(key), 0.0) + frequency
        if loci is None or not merged:
            raise HlaError("the haplotype set holds no haplotype")
        keys = np.array(list(merged), dtype=np.int64).reshape(len(merged), len(loci))
        frequency_array = np.array(list(merged.values()), dtype=np.float64)
        total = float(frequency_array.sum())
        if total <= 0:
            raise HlaError("haplotype frequencies sum to zero")
        return cls(
            loci,
            {locus: tuple(allele_list[locus]) for locus in loci},
            {locus: keys[:, n].copy() for n, locus in enumerate(loci)},
            frequency_array / total,  # the set as published may be truncated: renormalised
            population,
            source,
            dropped,
        )

    # -- expansion ---------------------------------------------------------------------------------
    def _allows(self, locus: str, typing: Typing) -> npt.NDArray[np.bool_]:
        """Per haplotype: whether its allele at ``locus`` is one the typing may stand for (cached: a
        registry repeats its typings)."""
        found = self._allowed.get((locus, typing))
        if found is not None:
            return found
        alleles = self.alleles[locus]
        if typing.kind is Kind.UNTYPED:
            allowed = np.ones(len(alleles), dtype=bool)
        elif typing.kind is Kind.NULL:
            allowed = np.array([a.null for a in alleles], dtype=bool)
        else:
            allowed = np.array(
                [not a.null and (a.protein in typing.proteins or a.group in typing.groups) for a in alleles],
                dtype=bool,
            )
        result: npt.NDArray[np.bool_] = allowed[self.codes[locus]]
        if len(self._allowed) < 100_000:
            self._allowed[(locus, typing)] = result
        return result

    def diplotypes(self, genotype: Genotype) -> Diplotypes:
        """The ordered pairs of haplotypes consistent with ``genotype`` and their HWE weights f(h1) f(h2).

        Loci the set does not hold (DPB1) are not constrained; loci the genotype lacks allow anything.
        """
        full = (1 << len(self.loci)) - 1
        first_mask = np.zeros(len(self), dtype=np.int64)
        second_mask = np.zeros(len(self), dtype=np.int64)
        for bit, locus in enumerate(self.loci):
            t1, t2 = genotype[locus]
            first_mask |= self._allows(locus, t1).astype(np.int64) << bit
            second_mask |= self._allows(locus, t2).astype(np.int64) << bit
        candidates = np.flatnonzero((first_mask | second_mask) == full)
        # Haplotypes with the same (first, second) masks pair alike: decide per class, then expand.
        classes = first_mask[candidates] * (full + 1) + second_mask[candidates]
        labels, inverse = np.unique(classes, return_inverse=True)
        members = [candidates[inverse.reshape(-1) == k] for k in range(len(labels))]
        m1, m2 = labels // (full + 1), labels % (full + 1)
        ok = ((m1[:, None] & m2[None, :]) | (m2[:, None] & m1[None, :])) == full
        firsts: list[I64] = [np.zeros(0, dtype=np.int64)]
        seconds: list[I64] = [np.zeros(0, dtype=np.int64)]
        size = 0
        for a, b in zip(*np.nonzero(ok), strict=True):
            left, right = members[a], members[b]
            size += len(left) * len(right)
            if size > MAX_DIPLOTYPES:
                return Diplotypes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), True)
            firsts.append(np.repeat(left, len(right)))
            seconds.append(np.tile(right, len(left)))
        first, second = np.concatenate(firsts), np.concatenate(seconds)
        return Diplotypes(first, second, self.frequency[first] * self.frequency[second], False)

    def phenotype_codes(self, diplotypes: Diplotypes, locus: str) -> I64:
        """Per diplotype the unordered pair of proteins at ``locus`` as one integer (nulls take their
        partner's protein: an explicit null is absent, WMDA/ATLAS)."""
        codes, proteins, nulls = self.codes[locus], self._protein_codes[locus], self._nulls[locus]
        a_allele, b_allele = codes[diplotypes.first], codes[diplotypes.second]
        a, b = proteins[a_allele], proteins[b_allele]
        a_null, b_null = nulls[a_allele], nulls[b_allele]
        a = np.where(a_null & ~b_null, b, a)
        b = np.where(b_null & ~a_null, a, b)
        width = int(proteins.max(initial=0)) + 1
        result: I64 = np.minimum(a, b) * width + np.maximum(a, b)
        return result


@dataclass(frozen=True, slots=True)
class Diplotypes:
    first: I64
    second: I64
    weight: F64
    too_ambiguous: bool

    @property
    def mass(self) -> float:
        return float(self.weight.sum())


@dataclass(frozen=True, slots=True)
class MatchLikelihood:
    """Probabilities of an allele-level full match per level; ``None`` where it cannot be computed."""

    levels: dict[str, float | None]
    full: float | None
    """At the loci of the search (those the set holds): what orders re-mobilisation."""
    note: str = ""
    """Why a value is missing: ``patient unrepresented``, ``donor unrepresented``, ``too ambiguous``."""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {level: _rounded(p) for level, p in self.levels.items()}
        out["full"] = _rounded(self.full)
        if self.note:
            out["note"] = self.note
        return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class _PatientSide:
    """The patient's phenotype distribution over one locus set, ready for many donors."""

    def __init__(self, haplotypes: HaplotypeSet, diplotypes: Diplotypes, loci: tuple[str, ...]) -> None:
        self.loci = loci
        self.uniques: list[I64] = []
        positions = []
        for locus in loci:
            codes = haplotypes.phenotype_codes(diplotypes, locus)
            unique, inverse = np.unique(codes, return_inverse=True)
            self.uniques.append(unique)
            positions.append(inverse.reshape(-1))
        self.strides = _strides([len(u) for u in self.uniques])
        keys = _combine(positions, self.strides)
        self.keys, inverse = np.unique(keys, return_inverse=True)
        self.mass = np.bincount(inverse.reshape(-1), weights=diplotypes.weight, minlength=len(self.keys))
        self.total = diplotypes.mass

    def overlap(self, haplotypes: HaplotypeSet, diplotypes: Diplotypes) -> float:
        """sum over donor diplotypes d of w(d) * (patient mass with d's phenotype)."""
        valid = np.ones(len(diplotypes.weight), dtype=bool)
        positions = []
        for locus, unique in zip(self.loci, self.uniques, strict=True):
            codes = haplotypes.phenotype_codes(diplotypes, locus)
            at = np.minimum(np.searchsorted(unique, codes), len(unique) - 1)
            valid &= unique[at] == codes
            positions.append(at)
        keys = _combine(positions, self.strides)[valid]
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = self.keys[at] == keys
        return float(np.dot(diplotypes.weight[valid][hit], self.mass[at[hit]]))


def _strides(sizes: Sequence[int]) -> list[int]:
    strides, product = [], 1
    for size in sizes:
        strides.append(product)
        product *= max(size, 1)
    if product >= 2**62:  # cannot happen below ~9,000 distinct pairs at each of five loci
        raise HlaError("the patient's typing is too ambiguous for the likelihood")
    return strides


def _combine(positions: Sequence[I64], strides: Sequence[int]) -> I64:
    key = np.zeros(len(positions[0]) if positions else 0, dtype=np.int64)
    for position, stride in zip(positions, strides, strict=True):
        key += position.astype(np.int64) * stride
    return key


class LikelihoodCalculator:
    """Match likelihoods of many donors for one patient: :meth:`against` per donor. Donor expansions are
    cached by genotype, since a registry repeats typings."""

    def __init__(self, haplotypes: HaplotypeSet, patient: Genotype, loci: Sequence[str]) -> None:
        self.haplotypes = haplotypes
        self.full_loci = tuple(locus for locus in LOCI if locus in loci and locus in haplotypes.loci)
        self.levels = {
            level: wanted for level, wanted in LEVELS.items() if set(wanted) <= set(haplotypes.loci)
        }
        self.patient = haplotypes.diplotypes(patient)
        self._sides: dict[tuple[str, ...], _PatientSide] = {}
        if self.patient.mass > 0:
            for wanted in {*self.levels.values(), self.full_loci}:
                if wanted:
                    self._sides[wanted] = _PatientSide(haplotypes, self.patient, wanted)
        self._cache: dict[Genotype, MatchLikelihood] = {}

    def against(self, donor: Genotype) -> MatchLikelihood:
        found = self._cache.get(donor)
        if found is None:
            found = self._cache[donor] = self._compute(donor)
        return found

    def _compute(self, donor: Genotype) -> MatchLikelihood:
        blank = dict.fromkeys(LEVELS)
        if self.patient.too_ambiguous:
            return MatchLikelihood(blank, None, "patient too ambiguous")
        if self.patient.mass <= 0:
            return MatchLikelihood(blank, None, "patient unrepresented")
        diplotypes = self.haplotypes.diplotypes(donor)
        if diplotypes.too_ambiguous:
            return MatchLikelihood(blank, None, "donor too ambiguous")
        if diplotypes.mass <= 0:
            return MatchLikelihood(blank, None, "donor unrepresented")
        norm = self.patient.mass * diplotypes.mass
        values: dict[str, float] = {}
        for wanted, side in self._sides.items():
            values_key = ",".join(wanted)
            values[values_key] = min(1.0, side.overlap(self.haplotypes, diplotypes) / norm)
        levels = {
            level: values.get(",".join(wanted)) if level in self.levels else None
            for level, wanted in LEVELS.items()
        }
        full = values.get(",".join(self.full_loci)) if self.full_loci else None
        return MatchLikelihood(levels, full)


def naive_match_probability(
    haplotypes: HaplotypeSet, patient: Genotype, donor: Genotype, loci: Sequence[str]
) -> float | None:
    """The same probability by plain enumeration in Python, one donor at a time: the baseline the
    benchmark sets :class:`LikelihoodCalculator` beside (and a second opinion in tests)."""
    wanted = [locus for locus in LOCI if locus in loci and locus in haplotypes.loci]

    def expand(genotype: Genotype) -> dict[tuple[tuple[str, str], ...], float]:
        allowed = {
            locus: [haplotypes._allows(locus, t).tolist() for t in genotype[locus]]
            for locus in haplotypes.loci
        }
        candidates = [h for h in range(len(haplotypes)) if all(a[h] or b[h] for a, b in allowed.values())]
        out: dict[tuple[tuple[str, str], ...], float] = {}
        for i in candidates:
            for j in candidates:
                if all((a[i] and b[j]) or (b[i] and a[j]) for a, b in allowed.values()):
                    key = tuple(_pair_proteins(haplotypes, locus, i, j) for locus in wanted)
                    out[key] = out.get(key, 0.0) + float(haplotypes.frequency[i] * haplotypes.frequency[j])
        return out

    patient_side, donor_side = expand(patient), expand(donor)
    norm = sum(patient_side.values()) * sum(donor_side.values())
    if norm <= 0:
        return None
    return sum(w * patient_side.get(key, 0.0) for key, w in donor_side.items()) / norm


def _pair_proteins(haplotypes: HaplotypeSet, locus: str, i: int, j: int) -> tuple[str, str]:
    a = haplotypes.alleles[locus][int(haplotypes.codes[locus][i])]
    b = haplotypes.alleles[locus][int(haplotypes.codes[locus][j])]
    first = b.protein if a.null and not b.null else a.protein
    second = a.protein if b.null and not a.null else b.protein
    return (first, second) if first <= second else (second, first)


# -- reading frequency files --------------------------------------------------------------------------
def _reduce(locus: str, text: str, ref: Reference) -> HaplotypeAllele | None:
    """An allele name of a frequency set (``A*01:01g``, ``01:01:01G``, ``*02:01``, ``24:09N``) as the
    protein grading compares; ``None`` when the loaded allele list does not know it."""
    name = text.strip()
    if "*" in name:
        name = name.split("*", 1)[1]
    # ATLAS/NMDP sets are at G group, small g (the ARD-identical alleles named by two fields) or P group
    # resolution (ATLAS ImportTypingCategory); each names exactly one protein.
    body = name[:-1] if name[-1:] in ("g", "G", "P") else name
    null = body.endswith("N")
    fields = tuple(body.rstrip("NLSCAQ").split(":"))
    if len(fields) < 2 or not all(f.isdigit() for f in fields):
        raise HlaError(f"haplotype allele {locus}*{text}: not a two-field or longer WHO name")
    if not ref.known(locus, fields[:2]):
        return None
    return HaplotypeAllele(f"{locus}*{name}", ref.protein_key(locus, fields), fields[0], null)


def load_haplotypes(
    path: str | Path, reference: Reference | None = None, population: str | None = None
) -> HaplotypeSet:
    """Read a haplotype-frequency file (optionally gzipped):

    - ATLAS's import format (JSON: ``{"nomenclatureVersion", "populationId", "frequencies": [{"a", "b",
      "c", "dqb1", "drb1", "frequency"}]}``, Atlas.MatchPrediction FrequencySetFileSchema);
    - NMDP's published tables saved as CSV or tab-separated text: a haplotype column whose header names
      the loci joined by ``~`` (``A~C~B~DRB1~DQB1``) holding ``A*01:01g~C*07:01g~…``, and one
      ``<population>_freq`` column per population (``_rank`` and other columns are ignored); lines
      starting with ``#`` are comments. ``population`` picks the column (default: the first).
    """
    source = Path(path)
    try:
        raw = source.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise ReferenceFileError(f"{source}: cannot be read ({exc})") from exc
    try:
        if text.lstrip().startswith("{"):
            return _from_atlas_json(text, source, reference)
        return _from_nmdp_table(text, source, reference, population)
    except HlaError as exc:
        raise ReferenceFileError(f"{source}: {exc}") from exc


def _from_atlas_json(text: str, source: Path, reference: Reference | None) -> HaplotypeSet:
    try:
        document = json.loads(text)
        rows = document["frequencies"]
    except (ValueError, KeyError, TypeError) as exc:
        raise HlaError(f"not an ATLAS frequency set ({exc})") from exc
    records = []
    for number, row in enumerate(rows, start=1):
        lowered = {str(k).lower(): v for k, v in row.items()}
        try:
            names = {
                locus: str(lowered[locus.lower()]) for locus in HAPLOTYPE_LOCI if locus.lower() in lowered
            }
            records.append((names, float(lowered["frequency"])))
        except (KeyError, ValueError) as exc:
            raise HlaError(f"frequency {number}: {exc}") from exc
    label = f"population {document.get('populationId', '?')}"
    return HaplotypeSet.from_records(records, reference, population=label, source=source.name)


def _from_nmdp_table(
    text: str, source: Path, reference: Reference | None, population: str | None
) -> HaplotypeSet:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise HlaError("no header line")
    dialect = "excel-tab" if "\t" in lines[0] else "excel"
    reader = csv.reader(io.StringIO("\n".join(lines)), dialect=dialect)
    header = [cell.strip() for cell in next(reader)]
    haplotype_column = next((n for n, h in enumerate(header) if "~" in h), None)
    if haplotype_column is None:
        raise HlaError("no haplotype column (a header like A~C~B~DRB1~DQB1)")
    loci = [
        _FILE_LOCI.get(name.strip().upper().removeprefix("HLA-"))
        for name in header[haplotype_column].split("~")
    ]
    if any(locus is None for locus in loci):
        raise HlaError(
            f"haplotype column {header[haplotype_column]!r} names a locus not in A, B, C, DRB1, DQB1"
        )
    frequencies = {h[: -len("_freq")]: n for n, h in enumerate(header) if h.lower().endswith("_freq")}
    if not frequencies:
        raise HlaError("no <population>_freq column")
    chosen = population or next(iter(frequencies))
    if chosen not in frequencies:
        raise HlaError(f"population {chosen!r} not in the file: {', '.join(frequencies)}")
    column = frequencies[chosen]
    records = []
    for number, row in enumerate(reader, start=2):
        if len(row) <= max(column, haplotype_column):
            raise HlaError(f"row {number}: too few columns")
        names = row[haplotype_column].split("~")
        if len(names) != len(loci):
            raise HlaError(f"row {number}: {len(names)} alleles for {len(loci)} loci")
        value = row[column].strip()
        if not value:
            continue
        try:
            frequency = float(value)
        except ValueError as exc:
            raise HlaError(f"row {number}: frequency {value!r} is not a number") from exc
        if frequency > 0:
            records.append(({str(locus): name for locus, name in zip(loci, names, strict=True)}, frequency))
    return HaplotypeSet.from_records(records, reference, population=chosen, source=source.name)
