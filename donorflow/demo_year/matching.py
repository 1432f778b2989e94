"""Matching members to searches: the candidate matcher. For each search it grades every member against
the patient at A, B, C and DRB1 (numpy, the whole registry at once), keeps those eligible on the day —
typed, not past the age limit within the year, not held by another patient's re-mobilisation — and
lists the best matches first, ties broken by a reproducible per-search shuffle; a member is
re-mobilised at most once a year.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from donorflow.demo_year.calendar import YEAR, YEAR_END, local_day
from donorflow.demo_year.people import LOCI, Registry, Typing
from donorflow.demo_year.searches import Shape
from donorflow.demo_year.timelines import RELEASING, Slot
from models.cases import CaseStage

__all__ = ["Matcher"]

_FOREVER = datetime.max.replace(tzinfo=UTC)


def _match_scores(typings: npt.NDArray[np.int16], patient: Typing) -> npt.NDArray[np.int16]:
    """Alleles shared with the patient at A, B, C and DRB1 (0–8): the initial-screening grade."""
    score = np.zeros(len(typings), dtype=np.int16)
    for n in range(len(LOCI)):
        d1, d2 = typings[:, 2 * n], typings[:, 2 * n + 1]
        p1, p2 = patient[2 * n], patient[2 * n + 1]
        straight = (d1 == p1).astype(np.int16) + (d2 == p2)
        crossed = (d1 == p2).astype(np.int16) + (d2 == p1)
        score += np.maximum(straight, crossed)
    return score


def _tiebreak(count: int, salt: int) -> npt.NDArray[np.uint64]:
    """A reproducible shuffle key per member and search (splitmix64), independent of numpy's RNGs."""
    with np.errstate(over="ignore"):
        x = np.arange(count, dtype=np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


class Matcher:
    """Picks each search's members: eligible on the day, best matches first; one re-mobilisation a year."""

    def __init__(self, registry: Registry, retiring: Iterable[int], seed: int) -> None:
        self.typings = np.array(registry.typings, dtype=np.int16)
        self.seed = seed
        records = registry.records
        self.searchable_from = np.array([d.toordinal() for d in registry.searchable_from])
        self.age_band = np.array([(YEAR - r.birth_date.year) // 5 for r in records])
        self.female = np.array([r.sex == "F" for r in records])
        self.allowed = np.ones(len(records), dtype=bool)
        self.allowed[list(retiring)] = False
        self.remobilised = np.zeros(len(records), dtype=bool)
        self.busy: dict[int, tuple[datetime, datetime]] = {}  # re-mobilised: not screened meanwhile

    def choose(self, number: int, patient: Typing, opened: datetime, shape: Shape) -> list[int]:
        """Members for the list: first those to re-mobilise (prefer younger, male), then the rest."""
        eligible = self.allowed & (self.searchable_from <= local_day(opened).toordinal())
        for member, (start, end) in self.busy.items():
            if start <= opened < end:
                eligible[member] = False
        score = -_match_scores(self.typings, patient)
        tie = _tiebreak(len(score), self.seed * 1_000_003 + number)
        pool = np.flatnonzero(eligible & ~self.remobilised)
        keys = (tie[pool], self.female[pool], self.age_band[pool], score[pool])
        first = pool[np.lexsort(keys)][: shape.remobilised]
        eligible[first] = False
        rest = np.flatnonzero(eligible)
        others = rest[np.lexsort((tie[rest], score[rest]))][: shape.screened - shape.remobilised]
        if len(first) + len(others) < shape.screened:
            raise RuntimeError(f"too few eligible members for search {number}")  # pragma: no cover
        return [int(m) for m in (*first, *others)]

    def reserve(self, member: int, slot: Slot) -> None:
        start = slot.time_of(CaseStage.REMOBILISING)
        if start is None:
            return
        self.remobilised[member] = True
        closed = slot.closed
        free = closed.at if closed and closed.reason in RELEASING and closed.at < YEAR_END else _FOREVER
        self.busy[member] = (start, free)
