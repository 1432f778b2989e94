"""The people: members of the registry and their HLA typings. A typing is two haplotypes drawn from the
alleles common among Han Chinese, a share of them whole common haplotypes, so full matches are about as
likely as in life; `Registry` signs up each drive's people (synthetic, from donorflow.demo) with a
typing, the day they become searchable and a national ID no one else in the replay has.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate

import hla
from donorflow.demo import ZHENGZHOU_CITY_CODE, make_national_id, signup_rows
from donorflow.demo_year.calendar import SHANGHAI
from donorflow.demo_year.drives import Drive
from donorflow.demo_year.shares import table
from models.intake import SignupRecord
from models.registry import POSITIONS, column_name, sheet_header

__all__ = ["LOCI", "Registry", "Typing", "draw_typing", "hla_cells"]

# Common alleles among Han Chinese with rough frequencies (%), enough for screening lists that look real.
LOCI = hla.DEFAULT_LOCI  # the loci a drive types (low resolution), in the one order (hla.LOCI)
_ALLELE_TABLE = {
    "A": "11:01=26 | 24:02=17 | 02:01=13 | 02:07=9 | 33:03=8 | 02:06=5 | 30:01=5 | 31:01=3 | 26:01=3 | "
    "02:03=3 | 01:01=2 | 03:01=2 | 29:01=1 | 32:01=1 | 68:01=1",
    "B": "46:01=12 | 40:01=11 | 58:01=7 | 13:02=6 | 51:01=6 | 15:01=5 | 44:03=4 | 35:01=4 | 38:02=4 | "
    "54:01=3 | 52:01=3 | 40:02=3 | 13:01=3 | 37:01=2 | 55:02=2 | 48:01=2 | 15:02=2 | 39:01=2 | 27:05=1 | "
    "57:01=1 | 67:01=1",
    "C": "01:02=18 | 07:02=16 | 03:04=10 | 03:02=8 | 06:02=8 | 08:01=8 | 03:03=6 | 04:01=4 | 14:02=4 | "
    "12:02=3 | 15:02=3 | 07:01=2 | 08:02=2 | 12:03=2 | 14:03=1",
    "DRB1": "09:01=15 | 15:01=12 | 12:02=9 | 07:01=9 | 08:03=7 | 03:01=6 | 04:05=5 | 11:01=5 | 14:54=4 | "
    "13:02=4 | 15:02=4 | 12:01=4 | 01:01=3 | 16:02=2 | 04:06=2 | 10:01=1 | 14:05=1",
}
_ALLELES = {
    locus: tuple((f"{locus}*{allele}", int(weight)) for allele, weight in table(text))
    for locus, text in _ALLELE_TABLE.items()
}
# Haplotypes (A~B~C~DRB1) common in northern Han: they make full matches about as likely as in life.
_HAPLOTYPES = (
    ("A*30:01", "B*13:02", "C*06:02", "DRB1*07:01"),
    ("A*33:03", "B*58:01", "C*03:02", "DRB1*03:01"),
    ("A*02:07", "B*46:01", "C*01:02", "DRB1*09:01"),
    ("A*11:01", "B*40:01", "C*07:02", "DRB1*15:01"),
)
_HAPLOTYPE_SHARE = 0.22
_NAMES = {locus: tuple(name for name, _ in alleles) for locus, alleles in _ALLELES.items()}
_CUMULATIVE = {locus: list(accumulate(w for _, w in alleles)) for locus, alleles in _ALLELES.items()}
_HAPLOTYPE_IDS = tuple(
    tuple(_NAMES[locus].index(a) for locus, a in zip(LOCI, h, strict=True)) for h in _HAPLOTYPES
)
Typing = tuple[int, ...]  # allele indexes: A, A, B, B, C, C, DRB1, DRB1


def _haplotype(rng: random.Random) -> tuple[int, ...]:
    if rng.random() < _HAPLOTYPE_SHARE:
        return rng.choice(_HAPLOTYPE_IDS)
    alleles = [rng.choices(range(len(_NAMES[locus])), cum_weights=_CUMULATIVE[locus])[0] for locus in LOCI]
    return tuple(alleles)


def draw_typing(rng: random.Random) -> Typing:
    first, second = _haplotype(rng), _haplotype(rng)
    return tuple(allele for pair in zip(first, second, strict=True) for allele in sorted(pair))


def hla_cells(typing: Typing) -> dict[str, str]:
    return {
        sheet_header(column_name(locus, position)): _NAMES[locus][typing[2 * n + i]]
        for n, locus in enumerate(LOCI)
        for i, position in enumerate(POSITIONS)
    }


@dataclass
class Registry:
    records: list[SignupRecord] = field(default_factory=list)
    typings: list[Typing] = field(default_factory=list)
    searchable_from: list[date] = field(default_factory=list)
    drive_members: list[range] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)

    def sign_up(self, drive: Drive, rng: random.Random, searchable_from: date) -> None:
        start = len(self.records)
        rows = signup_rows(drive.size, seed=rng.getrandbits(32), day=drive.held_on, start=start)
        for n, row in enumerate(rows):
            national_id = self._unique(row.national_id, row.sex == "M", row.birth_date)
            typing = draw_typing(rng)
            self.records.append(
                SignupRecord(
                    row=n + 2,
                    name=row.name,
                    sex=row.sex,
                    birth_date=row.birth_date,
                    national_id=national_id,
                    phone=row.phone,
                    email=row.email,
                    blood_group=row.blood_group,
                    consent_at=row.consent_at.replace(tzinfo=SHANGHAI),
                    hla=hla_cells(typing),
                )
            )
            self.typings.append(typing)
            self.searchable_from.append(searchable_from)
        self.drive_members.append(range(start, len(self.records)))

    def _unique(self, national_id: str, male: bool, birth: date) -> str:
        """No two people share an ID across the replay: a clash takes another sequence number."""
        for sequence in range(1 if male else 0, 1000, 2):  # GB 11643-1999: odd sequence = male
            if national_id not in self.seen_ids:
                self.seen_ids.add(national_id)
                return national_id
            national_id = make_national_id(ZHENGZHOU_CITY_CODE, birth, sequence)
        raise RuntimeError("no free ID sequence number left for this birth date")
