"""An in-memory columnar index of registry members for initial donor searches (DESIGN §4).

Storage per member: at each locus a uint16 id of its pair of typings (uint32 once a locus has more than
65,535 distinct pairs), the member key, a ``sort_key`` (younger first; the caller may fold in sex) and
the registration order. Rows are kept sorted by (sort_key, registered, key) so that among equally good
donors the scan meets them in ranking order; members added later sit in a small unsorted tail until
:meth:`HlaIndex.compact`. A search builds, per locus, a one-byte table over the distinct pairs
(``16 * mismatches + potentials``, graded exactly as :func:`hla.grade` does, ambiguous and
low-resolution typings included) and sums table lookups over the members chunk by chunk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hla.errors import IndexStateError
from hla.genotype import Genotype
from hla.grading import (
    DEFAULT_LOCI,
    GRADES,
    Dpb1Tce,
    Grade,
    MatchResult,
    check_loci,
    dpb1_tce,
    not_counted_loci,
    pair_detail,
    untyped_loci,
)
from hla.nomenclature import LOCI, NO_REFERENCE, Typing
from hla.reference import Reference
from hla.vocabulary import LocusVocabulary, pair_code_grades

__all__ = ["Hit", "HlaIndex", "Member", "SearchResult"]

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
_CHUNK = 1 << 16  # rows per scan step: a chunk's columns and sums stay in L2
_FORMAT = 3  # 2: pairs keep null typings; typings carry antigen keys; 3: typings name their one allele
_POOL: ThreadPoolExecutor | None = None


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="hla-scan")
    return _POOL


class Member(NamedTuple):
    """One registry member as the index takes it; ``sort_key``: smaller ranks first (e.g. age in days)."""

    key: int
    sort_key: int
    registered: int
    genotype: Genotype


@dataclass(frozen=True, slots=True)
class Hit:
    key: int
    sort_key: int
    registered: int
    result: MatchResult


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    """Members within the mismatch allowance (``hits`` is the best ``limit`` of them)."""
    hits: tuple[Hit, ...]
    patient_untyped: tuple[str, ...] = ()
    """Requested loci the patient was not typed at, searched as potential at every position (item 7)."""


class HlaIndex:
    """Columnar HLA index: :meth:`build`, :meth:`add`, :meth:`update`, :meth:`remove`, :meth:`search`,
    :meth:`save` and :meth:`load`. Not thread-safe for writers."""

    def __init__(self, reference: Reference | None = None) -> None:
        self.reference = reference if reference is not None else NO_REFERENCE
        self.vocabularies = {locus: LocusVocabulary(locus) for locus in LOCI}
        self._n = 0
        self._n_sorted = 0
        self._capacity = 0
        self._keys = np.zeros(0, dtype=np.int64)
        self._sort_keys = np.zeros(0, dtype=np.int32)
        self._registered = np.zeros(0, dtype=np.int64)
        self._pairs: dict[str, npt.NDArray[np.unsignedinteger]] = {
            locus: np.zeros(0, dtype=np.uint16) for locus in LOCI
        }
        self._tail: dict[int, int] = {}  # key -> row for rows after the sorted part
        self._lookup: tuple[I64, I64] | None = None  # sorted keys, their rows (sorted part)
        self._removed = 0

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, members: Iterable[Member], reference: Reference | None = None) -> HlaIndex:
        index = cls(reference)
        batch: list[Member] = []
        for member in members:
            batch.append(member)
            if len(batch) == 100_000:
                index._append(batch)
                batch = []
        index._append(batch)
        index.compact()
        return index

    @classmethod
    def from_columns(
        cls,
        keys: I64,
        sort_keys: npt.NDArray[np.integer],
        registered: I64,
        typings: Mapping[str, Sequence[Typing]],
        columns: Mapping[str, tuple[I64, I64]],
        reference: Reference | None = None,
    ) -> HlaIndex:
        """Bulk build from arrays: ``columns[locus]`` holds, per member, ids into ``typings[locus]``."""
        index = cls(reference)
        n = len(keys)
        index._grow(n)
        index._keys[:n], index._registered[:n] = keys, registered
        index._sort_keys[:n] = index._checked_sort_keys(sort_keys)
        for locus in LOCI:
            vocabulary = index.vocabularies[locus]
            if locus not in columns:
                pairs = np.full(n, vocabulary.pair_id(*(2 * (vocabulary.typings[0],))), dtype=np.int64)
            else:
                local = np.array([vocabulary.typing_id(t) for t in typings[locus]], dtype=np.int64)
                first, second = columns[locus]
                pairs = vocabulary.pair_ids_from_typing_ids(local[first], local[second])
            index._store_pairs(locus, slice(0, n), pairs)
        index._n = n
        if len(np.unique(keys)) != n:
            raise IndexStateError("member keys must be unique")
        index.compact()
        return index

    def _checked_sort_keys(self, values: npt.NDArray[np.integer]) -> npt.NDArray[np.int32]:
        info = np.iinfo(np.int32)
        if len(values) and (int(np.min(values)) < info.min or int(np.max(values)) > info.max):
            raise IndexStateError("sort_key must fit in 32 bits (e.g. age in days)")
        return np.asarray(values, dtype=np.int32)

    def _grow(self, extra: int) -> None:
        needed = self._n + extra
        if needed <= self._capacity:
            return
        capacity = max(needed, int(self._capacity * 1.5), 1024)
        self._keys = np.resize(self._keys, capacity)
        self._sort_keys = np.resize(self._sort_keys, capacity)
        self._registered = np.resize(self._registered, capacity)
        for locus in LOCI:
            self._pairs[locus] = np.resize(self._pairs[locus], capacity)
        self._capacity = capacity

    def _store_pairs(self, locus: str, rows: slice | I64, pairs: I64) -> None:
        column = self._pairs[locus]
        if self.vocabularies[locus].n_pairs > np.iinfo(column.dtype).max:
            column = self._pairs[locus] = column.astype(np.uint32)
        column[rows] = pairs
        self.vocabularies[locus].count(pairs, 1)

    def _append(self, members: Sequence[Member]) -> None:
        if not members:
            return
        fresh = {m.key for m in members}
        if len(fresh) != len(members) or any(k in self for k in fresh):
            raise IndexStateError("member keys must be unique; use update() for a known key")
        start = self._n
        self._grow(len(members))
        rows = slice(start, start + len(members))
        self._keys[rows] = [m.key for m in members]
        self._sort_keys[rows] = self._checked_sort_keys(np.array([m.sort_key for m in members]))
        self._registered[rows] = [m.registered for m in members]
        for locus in LOCI:
            vocabulary = self.vocabularies[locus]
            pairs = np.array([vocabulary.pair_id(*m.genotype[locus]) for m in members], dtype=np.int64)
            self._store_pairs(locus, rows, pairs)
        self._n += len(members)
        for offset, member in enumerate(members):
            self._tail[member.key] = start + offset

    def add(self, member: Member) -> None:
        """Add a new member (an :class:`IndexStateError` if its key is already indexed)."""
        self._append([member])
        if len(self._tail) > max(4096, self._n_sorted // 8):
            self.compact()

    def update(self, member: Member) -> None:
        """Replace an indexed member's typing, sort key and registration order."""
        self.remove(member.key)
        self.add(member)

    def remove(self, key: int) -> None:
        """Remove a member (an :class:`IndexStateError` if its key is not indexed)."""
        row = self._row_of(key)
        if row is None:
            raise IndexStateError(f"member {key} is not in the index")
        for locus in LOCI:
            column = self._pairs[locus]
            self.vocabularies[locus].count(np.array([column[row]], dtype=np.int64), -1)
            column[row] = 0
        self._tail.pop(key, None)
        self._removed += 1
        if self._removed > max(4096, self._n // 4):
            self.compact()

    def _row_of(self, key: int) -> int | None:
        row = self._tail.get(key)
        if row is not None:
            return row
        if self._lookup is None:
            order = np.argsort(self._keys[: self._n_sorted], kind="stable")
            self._lookup = (self._keys[order], order.astype(np.int64))
        sorted_keys, rows = self._lookup
        at = int(np.searchsorted(sorted_keys, key))
        if at < len(sorted_keys) and sorted_keys[at] == key:
            found = int(rows[at])
            if self._pairs[LOCI[0]][found] != 0:
                return found
        return None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._row_of(key) is not None

    def __len__(self) -> int:
        return self._n - self._removed

    def compact(self) -> None:
        """Drop removed rows and sort every row by (sort_key, registered, key)."""
        n = self._n
        live = np.flatnonzero(self._pairs[LOCI[0]][:n] != 0)
        order = live[np.lexsort((self._keys[live], self._registered[live], self._sort_keys[live]))]
        self._keys = self._keys[order]
        self._sort_keys = self._sort_keys[order]
        self._registered = self._registered[order]
        for locus in LOCI:
            self._pairs[locus] = self._pairs[locus][order]
        self._n = self._n_sorted = self._capacity = len(order)
        self._tail = {}
        self._lookup = None
        self._removed = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the member columns (the per-locus dictionaries are shared and small)."""
        total = self._keys.nbytes + self._sort_keys.nbytes + self._registered.nbytes
        total += sum(column.nbytes for column in self._pairs.values())
        if self._lookup is not None:
            total += self._lookup[0].nbytes + self._lookup[1].nbytes
        return total

    # -- searching -----------------------------------------------------------------------------
    def search(
        self,
        patient: Genotype,
        *,
        loci: Sequence[str] = DEFAULT_LOCI,
        max_mismatches: int = 0,
        limit: int | None = 20,
        count_dpb1: bool = True,
    ) -> SearchResult:
        """Members with at most ``max_mismatches`` over ``loci``, best first, as :func:`hla.grade`
        and :func:`hla.rank_key` would rank them. ``count_dpb1=False``: DPB1 (when among ``loci``) is
        graded and ranks by permissiveness, but neither counts in the total nor in the allowance."""
        wanted = check_loci(loci)
        not_counted = not_counted_loci(wanted, count_dpb1)
        counted = tuple(locus for locus in wanted if locus not in not_counted)
        untyped = untyped_loci(patient, wanted)
        if max_mismatches < 0 or (limit is not None and limit < 0):
            raise IndexStateError("max_mismatches and limit must not be negative")
        tables = {locus: self.vocabularies[locus].pair_tables(*patient[locus]) for locus in wanted}
        packed = {locus: tables[locus].packed for locus in counted}
        order = self._scan_order(counted, packed)
        threshold = min(16 * (max_mismatches + 1), 32 * len(counted) + 1)
        rows, sums = self._scan(order, packed, threshold)
        tce_ranks = None
        if "DPB1" in wanted:  # item 6: ranking prefers permissive DPB1 mismatches
            tce_ranks = self.vocabularies["DPB1"].tce_ranks(*patient["DPB1"], tables["DPB1"].code)
        chosen = self._top(rows, sums, limit, tce_ranks)
        hits = []
        details: dict[tuple[str, int], tuple[Any, ...]] = {}
        for row in chosen.tolist():
            grades = []
            rules = []
            nulls = []
            levels = []
            confidences = []
            for locus in wanted:
                pair = int(self._pairs[locus][row])
                # The scan's grades; the rule and null flags are named from the grades the pair tables
                # hold and the hit's stored typings, once per distinct pair (hits share pairs).
                detail = details.get((locus, pair))
                if detail is None:
                    vocabulary, table = self.vocabularies[locus], tables[locus]
                    a, b = vocabulary.expressed_pair_ids(pair)
                    straight = (GRADES[table.first[a]], GRADES[table.second[b]])
                    crossed = (GRADES[table.first[b]], GRADES[table.second[a]])
                    typings = vocabulary.pair_typings(pair)
                    detail = details[(locus, pair)] = pair_detail(patient[locus], typings, straight, crossed)
                grades.append(pair_code_grades(int(tables[locus].code[pair])))
                rules.append(detail[1])
                nulls.append(detail[2])
                levels.append(detail[3])
                confidences.append(detail[4])
            hits.append(
                Hit(
                    int(self._keys[row]),
                    int(self._sort_keys[row]),
                    int(self._registered[row]),
                    MatchResult(
                        wanted,
                        tuple(grades),
                        tuple(rules),
                        tuple(nulls),
                        untyped,
                        tuple(levels),
                        tuple(confidences),
                        self._dpb1_tce(patient, row, wanted, grades),
                        not_counted,
                    ),
                )
            )
        return SearchResult(len(rows), tuple(hits), untyped)

    def _dpb1_tce(
        self, patient: Genotype, row: int, wanted: tuple[str, ...], grades: list[tuple[Grade, Grade]]
    ) -> Dpb1Tce | None:
        if "DPB1" not in wanted:
            return None
        typings = self.vocabularies["DPB1"].pair_typings(int(self._pairs["DPB1"][row]))
        return dpb1_tce(patient["DPB1"], typings, grades[wanted.index("DPB1")])

    def _scan_order(self, loci: tuple[str, ...], packed: Mapping[str, U8]) -> list[str]:
        """Most discriminating locus first: highest mean packed value over the members."""

        def weight(locus: str) -> float:
            counts = self.vocabularies[locus].pair_count.view()
            return float(np.dot(counts[1:], packed[locus][1:].astype(np.int64)))

        return sorted(loci, key=weight, reverse=True)

    def _scan(self, order: list[str], packed: Mapping[str, U8], threshold: int) -> tuple[I64, U8]:
        """Rows whose summed packed values stay under ``threshold``, in row order. Large indexes are
        scanned in contiguous parts on a thread pool (numpy releases the GIL in take and ufuncs)."""
        columns = [(packed[locus], self._pairs[locus]) for locus in order]
        workers = _workers() if self._n >= 4 * _CHUNK else 1
        # At least one chunk per part: an index emptied by withdrawals (n = 0) still scans one empty range.
        step = max(1, -(-self._n // (workers * _CHUNK))) * _CHUNK
        bounds = [(lo, min(self._n, lo + step)) for lo in range(0, self._n, step)] or [(0, 0)]
        if len(bounds) == 1:
            parts = [self._scan_range(columns, threshold, *bounds[0])]
        else:
            parts = list(_pool().map(lambda b: self._scan_range(columns, threshold, *b), bounds))
        return (
            np.concatenate([rows for rows, _ in parts]).astype(np.int64),
            np.concatenate([sums for _, sums in parts]),
        )

    @staticmethod
    def _scan_range(
        columns: list[tuple[U8, npt.NDArray[np.unsignedinteger]]], threshold: int, low: int, high: int
    ) -> tuple[I64, U8]:
        found_rows: list[I64] = [np.zeros(0, dtype=np.int64)]
        found_sums: list[U8] = [np.zeros(0, dtype=np.uint8)]
        for start in range(low, high, _CHUNK):
            stop = min(high, start + _CHUNK)
            table, column = columns[0]
            sums = np.take(table, column[start:stop])
            rows: I64 | None = None
            for table, column in columns[1:]:
                if rows is None and len(sums) > 4096:
                    keep = sums < threshold
                    if np.count_nonzero(keep) * 4 < len(sums):  # few survive: gather only those
                        rows = np.flatnonzero(keep) + start
                        sums = sums[keep]
                if rows is None:
                    sums += np.take(table, column[start:stop])
                else:
                    sums += np.take(table, column[rows])
            keep = sums < threshold
            found_rows.append((np.flatnonzero(keep) + start) if rows is None else rows[keep])
            found_sums.append(sums[keep])
        return np.concatenate(found_rows).astype(np.int64), np.concatenate(found_sums)

    def _top(self, rows: I64, sums: U8, limit: int | None, tce_ranks: U8 | None = None) -> I64:
        """The best ``limit`` rows by (mismatches, DPB1 permissiveness rank, potentials, sort_key,
        registered, key). Sorted rows are already in order within one such key; tail rows are ordered
        explicitly. ``sums`` are ``16 * mismatches + potentials`` (potentials < 16), so the key is
        ``64 * mismatches + 16 * rank + potentials``, with the rank of each row's DPB1 pair or 0."""
        keys = sums.astype(np.uint16)
        if tce_ranks is not None and len(rows):
            ranks = tce_ranks[self._pairs["DPB1"][rows]].astype(np.uint16)
            keys = ((keys >> 4) << 6) | (ranks << 4) | (keys & 15)
        if limit is not None and len(rows) > limit:
            cumulative = np.cumsum(np.bincount(keys, minlength=1024))
            cut = int(np.searchsorted(cumulative, limit))  # the key at which the limit is reached
            below = rows[keys < cut]
            at_cut = rows[keys == cut]
            need = limit - len(below)
            in_sorted = at_cut[at_cut < self._n_sorted][:need]
            rows = np.concatenate([below, in_sorted, at_cut[at_cut >= self._n_sorted]])
            keys = np.concatenate([keys[keys < cut], np.full(len(rows) - len(below), cut, dtype=np.uint16)])
        order = np.lexsort((self._keys[rows], self._registered[rows], self._sort_keys[rows], keys))
        chosen: I64 = rows[order]
        return chosen if limit is None else chosen[:limit]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write one ``.npz`` file (compacting first); written to a temporary file, then renamed."""
        self.compact()
        target = Path(path)
        meta = {
            "format": _FORMAT,
            "reference": self.reference.fingerprint,
            "vocabularies": {locus: v.to_state() for locus, v in self.vocabularies.items()},
        }
        arrays: dict[str, npt.NDArray[np.generic]] = {f"pairs_{locus}": self._pairs[locus] for locus in LOCI}
        arrays.update(
            keys=self._keys,
            sort_keys=self._sort_keys,
            registered=self._registered,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
        temporary = target.with_name(target.name + ".tmp")
        with temporary.open("wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(temporary, target)

    @classmethod
    def load(cls, path: str | Path, reference: Reference | None = None) -> HlaIndex:
        """Read a file written by :meth:`save`, with the same reference tables it was built with."""
        index = cls(reference)
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes())
                arrays = {name: data[name] for name in data.files if name != "meta"}
        except (OSError, ValueError, KeyError) as exc:
            raise IndexStateError(f"{path}: not an HLA index file ({exc})") from exc
        if meta.get("format") != _FORMAT:
            raise IndexStateError(f"{path}: index format {meta.get('format')}, expected {_FORMAT}")
        if meta["reference"] != index.reference.fingerprint:
            raise IndexStateError(
                f"{path}: built with reference tables {meta['reference']}, "
                f"loaded with {index.reference.fingerprint}; rebuild the index"
            )
        index._keys, index._sort_keys = arrays["keys"], arrays["sort_keys"]
        index._registered = arrays["registered"]
        index._n = index._n_sorted = index._capacity = len(index._keys)
        for locus in LOCI:
            vocabulary = LocusVocabulary.from_state(locus, meta["vocabularies"][locus])
            index.vocabularies[locus] = vocabulary
            index._pairs[locus] = arrays[f"pairs_{locus}"]
            counts = np.bincount(index._pairs[locus], minlength=vocabulary.n_pairs)
            vocabulary.pair_count.data[: vocabulary.n_pairs] = counts
        return index
