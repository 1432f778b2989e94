"""Matching registry members to a patient: the database side of the HLA index (DESIGN.md §4).

The index lives in memory and in an `IndexStorage` (the adapter in models/matching/store.py keeps it in
`var/hla-index.npz` under a file lock). Opening it loads what was saved and applies what changed in the
database since — new typings, members who became active, deferred or withdrew — so a restart never
rebuilds 3.5 M members from scratch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

import hla
from hla.likelihood import HaplotypeSet, LikelihoodCalculator, MatchLikelihood
from models.core import StageEvent, ValidationError
from models.matching.store import IndexStorage, SavedIndex, UnusableIndexError, Watermarks
from models.registry import LOCUS_COLUMNS, POSITIONS, Donor, HlaTyping, RegistryStatus, column_name

__all__ = [
    "IndexStore",
    "MatchRow",
    "patient_genotype",
    "remobilisation_order",
    "search_registry",
    "typing_columns",
    "typing_genotype",
]

log = logging.getLogger(__name__)
# Transactions can commit out of id order: re-read this many ids below each watermark (idempotent).
_LOOKBACK = 1000
_BATCH = 5000


def typing_genotype(typing: HlaTyping, reference: hla.Reference | None = None) -> hla.Genotype:
    """A stored typing (lab strings per locus column) as an hla Genotype; raises hla.HlaError."""
    source: dict[str, tuple[str, ...]] = {}
    for locus, (first, second) in LOCUS_COLUMNS.items():
        values = tuple(v for v in (getattr(typing, first), getattr(typing, second)) if v)
        if values:
            source[locus] = values
    return hla.parse_genotype(source, reference)


def _no_tables() -> hla.Reference | None:
    return None


_reference_provider: Callable[[], hla.Reference | None] = _no_tables


def use_hla_reference(provider: Callable[[], hla.Reference | None]) -> None:
    """The composition root (donorflow.bootstrap) names where the HLA tables come from, so that services
    grading outside the search (a case's grade at screening and on the high-res result) read typings
    with the same tables the search index uses. Unset (unit tests): no tables."""
    global _reference_provider
    _reference_provider = provider


def hla_tables() -> hla.Reference | None:
    """The HLA tables the composition root set up (see :func:`use_hla_reference`)."""
    return _reference_provider()


def patient_genotype(text: str, reference: hla.Reference | None = None) -> hla.Genotype:
    """A patient's typing as a coordinator writes it: a GL string, or typings separated by spaces."""
    text = text.strip()
    if not text:
        raise ValidationError("患者HLA分型为空 the patient's HLA typing is empty")
    try:
        if "^" in text or "+" in text:
            return hla.parse_genotype(text, reference)
        by_locus: dict[str, list[str]] = {}
        for token in text.replace(",", " ").split():
            typing = hla.parse_typing(token, None, reference)
            by_locus.setdefault(typing.locus, []).append(token)
        return hla.parse_genotype({locus: tuple(values) for locus, values in by_locus.items()}, reference)
    except hla.HlaError as exc:
        why = str(exc)  # quotes the typing as written: a pasted page must not become a page-long error
        why = why if len(why) <= 300 else why[:299] + "…"
        raise ValidationError(f"患者HLA分型有误 patient HLA typing: {why}") from exc


def _sort_key(donor: Donor) -> int:
    """Younger first, then male (common practice, DESIGN.md §4); unknown birth dates rank last."""
    if donor.birth_date is None:
        return 2**30
    return -donor.birth_date.toordinal() * 2 + (1 if donor.sex == "F" else 0)


@dataclass(frozen=True)
class MatchRow:
    code: str
    result: hla.MatchResult
    likelihood: MatchLikelihood | None = None
    """P(6/6, 8/8, 10/10 allele match) from the haplotype-frequency set, when one is configured."""
    haplotype_set: str = ""

    def as_dict(self) -> dict[str, object]:
        out = self.result.as_dict(self.code)
        if self.likelihood is not None:
            out["likelihood"] = {**self.likelihood.as_dict(), "set": self.haplotype_set}
        return out


class IndexStore:
    """The HLA index of one database, kept in step with it by watermarks and saved in `storage`."""

    def __init__(self, storage: IndexStorage, reference: hla.Reference | None = None) -> None:
        self.storage = storage
        self.reference = reference
        self.index: hla.HlaIndex | None = None
        self.event_mark = 0
        self.typing_mark = 0
        self.skipped = 0  # active members whose stored typing does not parse (reported, not searched)
        self.built = False  # whether this store had to build from the database (not load and refresh)

    def open(self, session: Session) -> hla.HlaIndex:
        """Load the saved index and bring it up to date, or build it when there is none (or it is stale)."""
        if self.index is None:
            try:
                saved = self.storage.load(self.reference)
            except UnusableIndexError as exc:
                log.warning("HLA index file unusable (%s); rebuilding", exc)
                saved = None
            if saved is not None:
                self.index = saved.index
                self.event_mark, self.typing_mark = saved.marks.event, saved.marks.typing
        if self.index is None:
            self.build(session)
        else:
            self.refresh(session)
        assert self.index is not None
        return self.index

    def build(self, session: Session) -> hla.HlaIndex:
        event_mark, typing_mark = self._marks(session)
        self.skipped = 0
        self.index = hla.HlaIndex.build(self._members(session, None), self.reference)
        self.built = True
        self.event_mark, self.typing_mark = event_mark, typing_mark
        self.save()
        return self.index

    def refresh(self, session: Session) -> int:
        """Apply the members changed since the watermarks; returns how many were looked at."""
        assert self.index is not None
        event_mark, typing_mark = self._marks(session)
        changed = set(
            session.exec(
                select(StageEvent.donor_id).where(
                    StageEvent.entity == "donor", col(StageEvent.id) > self.event_mark - _LOOKBACK
                )
            )
        )
        changed |= {
            donor_id
            for donor_id in session.exec(
                select(HlaTyping.donor_id).where(col(HlaTyping.id) > self.typing_mark - _LOOKBACK)
            )
            if donor_id is not None
        }
        current = {member.key: member for member in self._members(session, changed)}
        for donor_id in changed:
            if donor_id in current and donor_id in self.index:
                self.index.update(current[donor_id])
            elif donor_id in current:
                self.index.add(current[donor_id])
            elif donor_id in self.index:
                self.index.remove(donor_id)
        if (event_mark, typing_mark) != (self.event_mark, self.typing_mark):
            self.event_mark, self.typing_mark = event_mark, typing_mark
            self.save()
        return len(changed)

    def save(self) -> None:
        """Hand the index and its watermarks to the storage as one pair."""
        assert self.index is not None
        self.storage.save(SavedIndex(self.index, Watermarks(self.event_mark, self.typing_mark)))

    @staticmethod
    def _marks(session: Session) -> tuple[int, int]:
        event = session.exec(select(func.coalesce(func.max(StageEvent.id), 0))).one()
        typing = session.exec(select(func.coalesce(func.max(HlaTyping.id), 0))).one()
        return int(event or 0), int(typing or 0)

    def _members(self, session: Session, only: set[int] | None) -> Iterator[hla.Member]:
        """Active members with their latest typing, in id batches (all of them, or just `only`)."""
        latest = (
            select(HlaTyping.donor_id, func.max(HlaTyping.id).label("typing_id"))
            .where(col(HlaTyping.donor_id).is_not(None))
            .group_by(col(HlaTyping.donor_id))
            .subquery()
        )
        statement = (
            select(Donor, HlaTyping)
            .join(latest, col(latest.c.donor_id) == Donor.id)
            .join(HlaTyping, col(HlaTyping.id) == latest.c.typing_id)
            .where(Donor.status == RegistryStatus.ACTIVE.value)
            .order_by(col(Donor.id))
        )
        ids: Sequence[int] | None = sorted(only) if only is not None else None
        chunks = [ids[i : i + _BATCH] for i in range(0, len(ids), _BATCH)] if ids is not None else [None]
        for chunk in chunks:
            query = statement if chunk is None else statement.where(col(Donor.id).in_(chunk))
            for donor, typing in session.exec(query):
                assert donor.id is not None
                try:
                    genotype = typing_genotype(typing, self.reference)
                except hla.HlaError as exc:
                    self.skipped += 1
                    log.warning("member %s not searchable: %s", donor.code, exc)
                    continue
                yield hla.Member(donor.id, _sort_key(donor), donor.id, genotype)


def search_registry(
    *,
    session: Session,
    index: hla.HlaIndex,
    patient: hla.Genotype,
    loci: Sequence[str] = hla.DEFAULT_LOCI,
    max_mismatches: int = 0,
    limit: int = 20,
    haplotypes: HaplotypeSet | None = None,
    count_dpb1: bool = True,
) -> tuple[int, list[MatchRow]]:
    """Ranked candidates for a patient: (how many are within the allowance, the best `limit` of them),
    each with its match likelihood when a haplotype-frequency set is given (issue 13 item 8).
    ``count_dpb1=False``: DPB1 graded and ranked by permissiveness, left out of the total (item 6)."""
    try:
        found = index.search(
            patient, loci=tuple(loci), max_mismatches=max_mismatches, limit=limit, count_dpb1=count_dpb1
        )
    except hla.HlaError as exc:
        raise ValidationError(str(exc)) from exc
    keys = [hit.key for hit in found.hits]
    codes = dict(session.exec(select(Donor.id, Donor.code).where(col(Donor.id).in_(keys))).all())
    likelihoods: dict[int, MatchLikelihood] = {}
    label = ""
    if haplotypes is not None and keys:
        calculator = LikelihoodCalculator(haplotypes, patient, tuple(loci))
        for key, genotype in _latest_genotypes(session, keys, index.reference).items():
            likelihoods[key] = calculator.against(genotype)
        label = f"{haplotypes.source} {haplotypes.population}".strip()
    return found.total, [
        MatchRow(
            codes[hit.key], hit.result, likelihoods.get(hit.key), label if hit.key in likelihoods else ""
        )
        for hit in found.hits
        if hit.key in codes
    ]


def _latest_genotypes(
    session: Session, keys: Sequence[int], reference: hla.Reference
) -> dict[int, hla.Genotype]:
    """The members' latest typings, as the index read them (a typing that no longer parses is left out)."""
    latest = (
        select(HlaTyping.donor_id, func.max(HlaTyping.id).label("typing_id"))
        .where(col(HlaTyping.donor_id).in_(keys))
        .group_by(col(HlaTyping.donor_id))
        .subquery()
    )
    rows = session.exec(select(HlaTyping).join(latest, col(HlaTyping.id) == latest.c.typing_id))
    found: dict[int, hla.Genotype] = {}
    for typing in rows:
        assert typing.donor_id is not None
        try:
            found[typing.donor_id] = typing_genotype(typing, reference)
        except hla.HlaError:
            continue
    return found


def remobilisation_order(rows: Sequence[MatchRow]) -> list[MatchRow]:
    """Who is called first (DESIGN.md §4): the member most likely to be a full match at the searched loci.

    The grades decide where they can: every position an allele match is a full match (probability 1,
    whatever the haplotype set knows), a mismatch at any position is not one (0). Otherwise the set's
    probability; a member it cannot place (no likelihood: no set, or a typing the set does not explain)
    comes after every member with a chance above 0 and before the certain non-matches. Ties keep the
    search's own rank.
    """

    def chance(row: MatchRow) -> float | None:
        if row.result.mismatches:
            return 0.0
        if row.result.certainty is hla.Certainty.DEFINITE:
            return 1.0
        return row.likelihood.full if row.likelihood is not None else None

    def key(item: tuple[int, MatchRow]) -> tuple[int, float, int]:
        p = chance(item[1])
        tier = 1 if p is None else 0 if p > 0 else 2
        return tier, -(p or 0.0), item[0]

    return [row for _, row in sorted(enumerate(rows), key=key)]


def typing_columns(text: str, reference: hla.Reference | None = None) -> dict[str, str]:
    """A patient's typing text as HlaTyping columns (`a_1`, `a_2`, …), each typing as written."""
    patient_genotype(text, reference)  # the same validation and message as the search
    columns: dict[str, str] = {}
    blocks = [block.split("+") for block in text.split("^")] if ("^" in text or "+" in text) else None
    if blocks is None:
        by_locus: dict[str, list[str]] = {}
        for token in text.replace(",", " ").split():
            by_locus.setdefault(hla.parse_typing(token, None, reference).locus, []).append(token)
        blocks = list(by_locus.values())
    for block in blocks:
        locus = hla.parse_typing(block[0].strip(), None, reference).locus
        for position, value in zip(POSITIONS, block, strict=False):
            columns[column_name(locus, position)] = value.strip()
    return columns
