"""The seed year replayed: a synthetic 2021 whose funnel equals the branch's annual report, exactly.

`replay_zhengzhou_2021` builds a prior registry (members who joined 2001–2020), the drives of 2021 and a
year of patient searches, and walks them through the services the flows call — `create_event`,
`import_records`, `open_case` / `advance_case` / `close_case`, `change_registry_status` — so that
`funnel_counts` for 2021 equals the `stem_cell` figures of `data/zhengzhou-2021.json` (SEED_FIGURES).

Everything comes from one seed: the same seed gives the same members, codes, searches and stage events.
Nobody in it is a real person (see donorflow.demo). The replay is thousands of transactions, not one:
load it into a database without 2021 stem-cell data, and start again from an empty one if it fails.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from itertools import accumulate
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select

from donorflow.demo import ZHENGZHOU_CITY_CODE, make_national_id, signup_rows
from models.cases import PatientSearch
from models.db import transaction
from models.errors import ValidationError
from models.funnel import FUNNEL_KEYS, FunnelCounts, funnel_counts
from models.members import create_event
from models.pipeline import CaseStage, CloseReason, RegistryStatus
from models.registry import Donor, HlaTyping, RecruitmentEvent, RecruitmentEventCreate
from models.signup_import import ImportPolicy, import_records, national_id_hash
from models.signup_validation import SignupRecord
from models.transitions import advance_case, change_registry_status, close_case, open_case

__all__ = ["ACTOR", "DEMO_ORGANISER", "SEED_FIGURES", "YEAR", "replay_zhengzhou_2021"]

YEAR = 2021
ACTOR = "demo:zhengzhou-2021"
DEMO_ORGANISER = "郑州市红十字会（演示数据）"  # marks the demo's drives: the replay loads once
SHANGHAI = ZoneInfo("Asia/Shanghai")
_YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
_PRIOR_MEMBERS = 6000  # members who joined 2001–2020, enough that screenings reach many people
_DONATE_MAX_AGE = 55  # CMDP: members may donate up to 55 (Settings.donate_max_age)
_TYPING_DELAY = timedelta(days=35)  # a 2021 sign-up is searchable once the lab has typed the sample
_SCREENED_PER_SEARCH = 5.6  # mean members of this branch on one patient's initial-screening list


def _load_figures() -> dict[str, int]:
    text = resources.files("donorflow.data").joinpath("zhengzhou-2021.json").read_text(encoding="utf-8")
    block = json.loads(text)["stem_cell"]
    return {key: int(block[key]) for key in FUNNEL_KEYS}


SEED_FIGURES: dict[str, int] = _load_figures()


# -- the 2021 calendar --------------------------------------------------------------------------------
def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _span(first: str, last: str) -> set[date]:
    return set(_days(date.fromisoformat(first), date.fromisoformat(last)))


# The State Council's holidays (2021, and autumn 2020 for searches begun then) and the weekend days
# worked in exchange (调休).
_SPRING_FESTIVAL = _span("2021-02-11", "2021-02-17")
_HOLIDAYS = (
    _span("2020-10-01", "2020-10-08")
    | _span("2021-01-01", "2021-01-03")
    | _SPRING_FESTIVAL
    | _span("2021-04-03", "2021-04-05")
    | _span("2021-05-01", "2021-05-05")
    | _span("2021-06-12", "2021-06-14")
    | _span("2021-09-19", "2021-09-21")
    | _span("2021-10-01", "2021-10-07")
)
_MAKEUP_WORKDAYS = {
    date.fromisoformat(d)
    for d in (
        "2020-09-27",
        "2020-10-10",
        "2021-02-07",
        "2021-02-20",
        "2021-04-25",
        "2021-05-08",
        "2021-09-18",
        "2021-09-26",
        "2021-10-09",
    )
}
# No drives in the Spring Festival, nor after the 20 July flood and during August's Delta outbreak.
_NO_DRIVES = _SPRING_FESTIVAL | _span("2021-07-20", "2021-08-31")
_TERM_BREAKS = _span("2021-01-16", "2021-02-28") | _span("2021-07-03", "2021-08-31")


def _is_workday(day: date) -> bool:
    return day in _MAKEUP_WORKDAYS or (day.weekday() < 5 and day not in _HOLIDAYS)


def _workday_from(day: date) -> date:
    while not _is_workday(day):
        day += timedelta(days=1)
    return day


def _at(day: date, minute: int) -> datetime:
    """`minute` after local midnight of `day`, as UTC."""
    return datetime.combine(day, time(minute // 60, minute % 60), SHANGHAI).astimezone(UTC)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# -- drives -------------------------------------------------------------------------------------------
def _table(text: str) -> tuple[tuple[str, str], ...]:
    """`name=value | name=value …` → ((name, value), …): long reference tables stay short and readable."""
    pairs = (item.rsplit("=", 1) for item in text.split("|"))
    return tuple((name.strip(), value.strip()) for name, value in pairs)


# Venue=district by kind; districts are the county-level units of donorflow.demo.DISTRICTS.
_VENUES_BY_KIND = {
    "university": "郑州大学=中原区 | 河南工业大学=中原区 | 河南农业大学=金水区 | 华北水利水电大学=金水区 | "
    "郑州轻工业大学=金水区 | 河南财经政法大学=金水区 | 河南中医药大学=金水区 | 黄河科技学院=二七区 | "
    "郑州航空工业管理学院=二七区 | 郑州师范学院=惠济区 | 郑州升达经贸管理学院=新郑市",
    "company": "宇通客车=管城回族区 | 中铝河南分公司=上街区 | 郑州市公交集团=中原区 | "
    "中国移动郑州分公司=金水区",
    "hospital": "河南省人民医院=金水区 | 郑州大学第一附属医院=二七区 | 巩义市人民医院=巩义市 | "
    "荥阳市人民医院=荥阳市 | 新密市第一人民医院=新密市 | 登封市人民医院=登封市 | 中牟县人民医院=中牟县 | "
    "新郑市人民医院=新郑市",
    "square": "二七广场=二七区 | 碧沙岗公园=中原区 | 绿城广场=中原区 | 紫荆山公园=金水区 | 人民公园=二七区 | "
    "商城遗址公园=管城回族区 | 黄帝故里景区=新郑市",
}
_VENUES = tuple(
    (venue, district, kind) for kind, text in _VENUES_BY_KIND.items() for venue, district in _table(text)
)
_KIND_SHARE = {"university": 0.4, "company": 0.17, "hospital": 0.14, "square": 0.29}
_KIND_SIZE = {"university": 55.0, "company": 30.0, "hospital": 15.0, "square": 22.0}  # sign-ups, typical
# Observance days held on a square whatever the weekday: 5·8 World Red Cross Day, World Marrow Donor Day.
_SPECIAL_DRIVES = (
    (date(2021, 5, 8), "世界红十字日 二七广场招募", "二七广场", "二七区"),
    (date(2021, 9, 18), "世界骨髓捐献者日 绿城广场招募", "绿城广场", "中原区"),
)
_SEASONS = (
    dict.fromkeys((3, 4, 5), "春季") | dict.fromkeys((6, 7, 8), "夏季") | dict.fromkeys((9, 10, 11), "秋季")
)


@dataclass(frozen=True)
class _Drive:
    name: str
    held_on: date
    location: str
    district: str
    kind: str
    size: int


def _drive_days(kind: str, year: int) -> list[date]:
    days = _days(date(year, 1, 4), date(year, 12, 20))
    if year == YEAR:
        days = [d for d in days if d not in _NO_DRIVES]
        if kind == "university":
            days = [d for d in days if d not in _TERM_BREAKS]
        return [d for d in days if _is_workday(d) != (kind == "square")]  # squares on days off
    first = date(2020, 5, 1) if year == 2020 else date(year, 3, 1)  # 2020: no gatherings before May
    days = [d for d in days if d >= first and d.month not in (1, 2, 7, 8)]
    return [d for d in days if (d.weekday() < 5) != (kind == "square")]


def _drives_of_year(year: int, count: int, members: int, rng: random.Random) -> list[_Drive]:
    """`count` drives of the year with `members` sign-ups between them, unevenly (universities are big)."""
    slots: list[tuple[date, str, str, str]] = []
    for kind, n in _kind_counts(count).items():
        days, venues = _drive_days(kind, year), [v for v in _VENUES if v[2] == kind]
        rng.shuffle(venues)  # each venue in turn, so none has more than its share of the year's drives
        for i in range(n):
            venue, district, _ = venues[i % len(venues)]
            slots.append((rng.choice(days), venue, district, kind))
    slots.sort()
    weights = [_KIND_SIZE[kind] * rng.lognormvariate(0, 0.45) for *_, kind in slots]
    sizes = _apportion(members, weights, minimum=min(6, members // count))
    seen: dict[str, int] = {}
    drives = []
    for (day, venue, district, kind), size in zip(slots, sizes, strict=True):
        name = f"{venue} {_SEASONS.get(day.month, '冬季')}招募"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f"（第{'一二三四五六七八九十'[min(seen[name], 10) - 1]}场）"
        drives.append(_Drive(name, day, venue, district, kind, size))
    return drives


def _kind_counts(count: int) -> dict[str, int]:
    shares = list(_KIND_SHARE.values())
    return dict(zip(_KIND_SHARE, _apportion(count, shares), strict=True))


def _drives_2021(count: int, members: int, rng: random.Random) -> list[_Drive]:
    special = [
        _Drive(name, day, venue, district, "square", 0) for day, name, venue, district in _SPECIAL_DRIVES
    ]
    usual = _drives_of_year(YEAR, count - len(special), members, rng)
    weights = [float(d.size) for d in usual] + [40.0 * rng.lognormvariate(0, 0.3) for _ in special]
    sizes = _apportion(members, weights, minimum=6)
    drives = [
        _Drive(d.name, d.held_on, d.location, d.district, d.kind, n)
        for d, n in zip([*usual, *special], sizes, strict=True)
    ]
    return sorted(drives, key=lambda d: (d.held_on, d.name))


def _prior_drives(rng: random.Random) -> list[_Drive]:
    """2001–2020: a registry that grew year by year, a drive for every ~75 sign-ups."""
    years = list(range(2001, YEAR))
    members = _apportion(_PRIOR_MEMBERS, [(y - 2000) ** 1.3 for y in years], minimum=40)
    drives: list[_Drive] = []
    for year, n in zip(years, members, strict=True):
        drives += _drives_of_year(year, max(1, round(n / 75)), n, rng)
    return drives


def _apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Integers of at least `minimum`, proportional to `weights`, summing to `total` (largest remainder)."""
    free = total - minimum * len(weights)
    if free < 0 or not weights:
        raise ValueError(f"cannot split {total} into {len(weights)} parts of at least {minimum}")
    shares = [w * free / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: free - sum(counts)]:
        counts[i] += 1
    return [c + minimum for c in counts]


# -- HLA typings --------------------------------------------------------------------------------------
# Common alleles among Han Chinese with rough frequencies (%), enough for screening lists that look real.
_LOCI = ("A", "B", "C", "DRB1")
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
    locus: tuple((f"{locus}*{allele}", int(weight)) for allele, weight in _table(text))
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
    tuple(_NAMES[locus].index(a) for locus, a in zip(_LOCI, h, strict=True)) for h in _HAPLOTYPES
)
Typing = tuple[int, ...]  # allele indexes: A, A, B, B, C, C, DRB1, DRB1


def _haplotype(rng: random.Random) -> tuple[int, ...]:
    if rng.random() < _HAPLOTYPE_SHARE:
        return rng.choice(_HAPLOTYPE_IDS)
    alleles = [rng.choices(range(len(_NAMES[locus])), cum_weights=_CUMULATIVE[locus])[0] for locus in _LOCI]
    return tuple(alleles)


def _typing(rng: random.Random) -> Typing:
    first, second = _haplotype(rng), _haplotype(rng)
    return tuple(allele for pair in zip(first, second, strict=True) for allele in sorted(pair))


def _hla_cells(typing: Typing) -> dict[str, str]:
    return {
        f"{locus}_{i + 1}": _NAMES[locus][typing[2 * n + i]] for n, locus in enumerate(_LOCI) for i in (0, 1)
    }


def _match_scores(typings: npt.NDArray[np.int16], patient: Typing) -> npt.NDArray[np.int16]:
    """Alleles shared with the patient at A, B, C and DRB1 (0–8): the initial-screening grade."""
    score = np.zeros(len(typings), dtype=np.int16)
    for n in range(len(_LOCI)):
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


# -- members ------------------------------------------------------------------------------------------
@dataclass
class _Registry:
    records: list[SignupRecord] = field(default_factory=list)
    typings: list[Typing] = field(default_factory=list)
    searchable_from: list[date] = field(default_factory=list)
    drive_members: list[range] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)

    def sign_up(self, drive: _Drive, rng: random.Random, searchable_from: date) -> None:
        start = len(self.records)
        rows = signup_rows(drive.size, seed=rng.getrandbits(32), day=drive.held_on, start=start)
        for n, row in enumerate(rows):
            national_id = self._unique(row.national_id, row.sex == "M", row.birth_date)
            typing = _typing(rng)
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
                    hla=_hla_cells(typing),
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


def _birthday(birth: date, age: int) -> date:
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:  # 29 February: 1 March in other years
        return date(birth.year + age, 3, 1)


# -- patient searches ---------------------------------------------------------------------------------
_CENTRES = _table(
    "河南省肿瘤医院=16 | 河南省人民医院=14 | 郑州大学第一附属医院=18 | 河南省儿童医院=5 | 北京道培医院=8 | "
    "北京大学人民医院=9 | 中国医学科学院血液病医院=7 | 苏州大学附属第一医院=6 | "
    "浙江大学医学院附属第一医院=4 | 南方医科大学南方医院=4 | 华中科技大学同济医学院附属协和医院=5 | "
    "河北燕达陆道培医院=4"
)
_DIAGNOSES = _table(
    "急性髓系白血病 (AML)=35 | 急性淋巴细胞白血病 (ALL)=24 | 骨髓增生异常综合征 (MDS)=11 | "
    "重型再生障碍性贫血 (SAA)=12 | 慢性髓系白血病 (CML)=3 | 非霍奇金淋巴瘤=6 | 重型β地中海贫血=4 | "
    "混合表型急性白血病=3 | 骨髓纤维化=2"
)


@dataclass
class _Shape:
    """How far one search's cases get: screened ≥ re-mobilised ≥ typed ≥ examined ≥ donated."""

    screened: int = 1
    remobilised: int = 0
    typed: int = 0
    examined: int = 0
    donated: bool = False
    failed_first: bool = False  # the first member's work-up failed; a second one donated
    cancelled: bool = False


def _shapes(figures: Mapping[str, int], rng: random.Random) -> list[_Shape]:
    """Split the year's totals over searches so every stage sums to its figure exactly."""
    donations = figures["donations"]
    spare_exams = figures["pre_donation_exams"] - donations
    failed = min(donations, (spare_exams + 1) // 2)
    shapes = [
        _Shape(examined=2 if n < failed else 1, donated=True, failed_first=n < failed)
        for n in range(donations)
    ]
    shapes += [_Shape(examined=1) for _ in range(spare_exams - failed)]
    for shape in shapes:
        shape.typed = shape.examined
    spare_typed = figures["high_res_samples"] - sum(s.typed for s in shapes)
    _spread(shapes, "typed", spare_typed - spare_typed // 2, rng)
    shapes += [_Shape(typed=1) for _ in range(spare_typed // 2)]
    for shape in shapes:
        shape.remobilised = shape.typed
    spare_remobilised = figures["remobilisations"] - sum(s.remobilised for s in shapes)
    shapes += [_Shape(remobilised=1) for _ in range(spare_remobilised // 2)]
    _spread(shapes, "remobilised", spare_remobilised - spare_remobilised // 2, rng)
    total = figures["initial_screenings"]
    shapes += [_Shape() for _ in range(max(0, round(total / _SCREENED_PER_SEARCH) - len(shapes)))]
    for shape in shapes:
        shape.screened = max(1, shape.remobilised)
        shape.cancelled = shape.examined == 0 and rng.random() < 0.08
    _spread(shapes, "screened", total - sum(s.screened for s in shapes), rng, sigma=0.8)
    if min(spare_exams, spare_typed, spare_remobilised) < 0 or sum(s.screened for s in shapes) != total:
        raise ValueError(f"the figures are not a funnel: {dict(figures)}")
    return shapes


def _spread(shapes: list[_Shape], attribute: str, extra: int, rng: random.Random, sigma: float = 0.5) -> None:
    """Add `extra` to `attribute` over the shapes that already have some, unevenly."""
    if extra <= 0:
        return
    chosen = [s for s in shapes if getattr(s, attribute) > 0]
    weights = [rng.lognormvariate(0, sigma) for _ in chosen]
    for shape, add in zip(chosen, _apportion(extra, weights), strict=True):
        setattr(shape, attribute, getattr(shape, attribute) + add)


# -- what happens to each case ------------------------------------------------------------------------
Kind = Literal["open", "advance", "close", "defer", "reactivate"]


@dataclass(frozen=True)
class _Event:
    at: datetime
    kind: Kind
    stage: CaseStage | None = None
    reason: CloseReason | None = None
    note: str | None = None
    until: date | None = None


@dataclass
class _Slot:
    """One place on a search's list; `depth` 0 screened … 4 donated. Filled with a member later."""

    depth: int
    events: list[_Event] = field(default_factory=list)
    failed_exam: bool = False

    @property
    def last(self) -> datetime:
        return self.events[-1].at

    def time_of(self, stage: CaseStage) -> datetime | None:
        return next((e.at for e in self.events if e.stage is stage), None)

    @property
    def closed(self) -> _Event | None:
        return next((e for e in self.events if e.kind == "close"), None)


# Anthony Nolan, donor-reason cancellations (DESIGN.md §6): 36% no contact, 34% medical, 19% personal,
# 8% emigrated; the other 3% count as personal here. Days: how long until the coordinator closes the case.
_DONOR_REASONS = (
    (CloseReason.UNREACHABLE, ("电话停机，短信无回复", "三次联系未接通", "联系方式已失效"), 36, (10, 30)),
    (
        CloseReason.MEDICAL_DEFERRAL,
        ("妊娠期", "高血压未控制", "近期手术", "体重指数过高", "服用抗凝药"),
        34,
        (3, 21),
    ),
    (CloseReason.DECLINED, ("家人反对", "工作原因无法请假", "本人改变意愿", "担心影响健康"), 22, (2, 14)),
    (CloseReason.UNREACHABLE, ("已移居海外",), 8, (5, 21)),
)
_DONOR_REASON_WEIGHTS = [weight for *_, weight, _days in _DONOR_REASONS]
# Share of members closed for a donor reason rather than not selected, by depth (re-mobilised, typed);
# a 2024 US study found 54% of members available at confirmatory typing (DESIGN.md §6).
_DONOR_REASON_SHARE = {0: 0.0, 1: 0.62, 2: 0.25}
_EXAM_FAILED = ("肝功能异常", "乙肝表面抗原阳性", "心电图异常", "血常规异常", "胸片异常")
_PATIENT_CANCELLED = ("患者改行亲缘半相合移植", "患者病情变化，移植取消", "患者病情进展")
_NOT_SELECTED = "移植中心选择了其他供者"
_RELEASING = (CloseReason.NOT_SELECTED, CloseReason.PATIENT_CANCELLED)  # the member is free again


class _Scheduler:
    """Dates for one search's cases: working days for the coordinators, any day for a collection."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def later(self, after: datetime, low: int, high: int, *, workday: bool = True) -> datetime:
        day = _local_day(after) + timedelta(days=self.rng.randint(low, high))
        moment = _at(_workday_from(day) if workday else day, self.rng.randint(9 * 60, 17 * 60))
        return max(moment, after + timedelta(hours=1))

    def plan(self, shape: _Shape, *, carried_in: bool = False) -> tuple[datetime, list[_Slot]]:
        """When the search's screening list came, and its slots; every stage entry falls before the year's
        end. A search carried in from the autumn before has its screenings (and maybe more) in that year."""
        span = 0 if not shape.remobilised else 25 if not shape.typed else 55 if not shape.examined else 100
        span += 25 * shape.donated + 35 * shape.failed_first
        first, last = date(YEAR, 1, 4), date(YEAR, 12, 28) - timedelta(days=span)
        if carried_in:
            first, last = date(YEAR - 1, 9, 1), date(YEAR - 1, 12, 24)
        while True:  # a few tries at most: the span allows for holidays in most draws
            day = _workday_from(first + timedelta(days=self.rng.randint(0, (last - first).days)))
            opened = _at(day, 9 * 60 + self.rng.randint(0, 90))
            slots = self.slots(shape, opened)
            if all(e.at < _YEAR_END for s in slots for e in s.events if e.kind == "advance"):
                return opened, slots

    def slots(self, shape: _Shape, opened: datetime) -> list[_Slot]:
        depths = [4] * shape.donated + [3] * (shape.examined - shape.donated)
        depths += [2] * (shape.typed - shape.examined) + [1] * (shape.remobilised - shape.typed)
        slots = [_Slot(depth) for depth in [*depths, *[0] * (shape.screened - shape.remobilised)]]
        if shape.failed_first:  # the best match was examined first and failed; the next one donated
            slots[0], slots[1] = slots[1], slots[0]
            slots[0].failed_exam = True
        for slot in slots[: shape.remobilised]:
            self.advance(slot, CaseStage.REMOBILISING, self.later(opened, 2, 21))  # within days or weeks
        for slot in slots[: shape.typed]:
            self.advance(slot, CaseStage.HIGH_RES_TYPING, self.later(slot.last, 7, 28))
        self.work_up(slots[: shape.examined])
        self.close_the_rest(slots, opened)
        if shape.cancelled:
            self.cancel(slots, opened)
        for slot in slots:
            if (closed := slot.closed) is not None and closed.reason is CloseReason.MEDICAL_DEFERRAL:
                self.defer(slot, closed)
        return slots

    def advance(self, slot: _Slot, stage: CaseStage, at: datetime) -> None:
        slot.events.append(_Event(at, "advance", stage=stage))

    def close(self, slot: _Slot, reason: CloseReason, at: datetime, note: str) -> None:
        slot.events.append(_Event(at, "close", reason=reason, note=note))

    def work_up(self, examined: list[_Slot]) -> None:
        """Exam 2–6 weeks after the typing, collection 1–3 weeks after the exam (CMDP: ~6 days after
        admission), follow-up from the next day. After a failed exam the next member is examined."""
        failed_at: datetime | None = None
        for slot in examined:
            if failed_at is None:
                self.advance(slot, CaseStage.EXAM, self.later(slot.last, 14, 42))
            else:
                earliest = max(slot.last + timedelta(days=14), failed_at + timedelta(days=5))
                self.advance(slot, CaseStage.EXAM, self.later(earliest, 0, 10))
            if slot.failed_exam:
                note = "体检未通过：" + self.rng.choice(_EXAM_FAILED)
                self.close(slot, CloseReason.MEDICAL_DEFERRAL, self.later(slot.last, 3, 10), note)
                failed_at = slot.last
            elif slot.depth == 4:
                collected = self.later(slot.last, 7, 21, workday=False)
                self.advance(slot, CaseStage.DONATION, collected)
                self.advance(slot, CaseStage.FOLLOW_UP, collected + timedelta(days=1))
            else:  # examined, but this patient got no donation from the branch
                reason = self.rng.choices(
                    (CloseReason.PATIENT_CANCELLED, CloseReason.MEDICAL_DEFERRAL, CloseReason.DECLINED),
                    weights=(4, 4, 2),
                )[0]
                notes = {
                    CloseReason.PATIENT_CANCELLED: _PATIENT_CANCELLED,
                    CloseReason.DECLINED: ("本人改变意愿",),
                }
                note = self.rng.choice(notes.get(reason, tuple("体检未通过：" + e for e in _EXAM_FAILED)))
                self.close(slot, reason, self.later(slot.last, 3, 21), note)

    def close_the_rest(self, slots: list[_Slot], opened: datetime) -> None:
        """Members not taken further: a donor reason, or not selected once the centre has chosen."""
        chosen = {  # when the centre picked members for the next stage, seen from each depth
            depth: [at for s in slots if (at := s.time_of(stage)) is not None]
            for depth, stage in enumerate((CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING, CaseStage.EXAM))
        }
        for slot in slots:
            if slot.depth >= 3:
                continue
            base = slot.last if slot.events else opened
            decided = min(chosen[slot.depth], default=None)
            if self.rng.random() < _DONOR_REASON_SHARE[slot.depth]:
                reason, notes, _, (low, high) = self.rng.choices(
                    _DONOR_REASONS, weights=_DONOR_REASON_WEIGHTS
                )[0]
                self.close(slot, reason, self.later(base, low, high), self.rng.choice(notes))
            elif decided is not None:
                self.close(
                    slot, CloseReason.NOT_SELECTED, self.later(max(decided, base), 1, 10), _NOT_SELECTED
                )
            else:  # the centre found its donor elsewhere (another branch, another registry)
                self.close(slot, CloseReason.NOT_SELECTED, self.later(base, 14, 60), _NOT_SELECTED)

    def cancel(self, slots: list[_Slot], opened: datetime) -> None:
        """The patient's transplant is off: every case still open closes as patient_cancelled."""
        moves = [e.at for s in slots for e in s.events if e.kind == "advance"]
        at = self.later(max(moves, default=opened), 3, 30)
        note = self.rng.choice(_PATIENT_CANCELLED)
        for slot in slots:
            if (closed := slot.closed) is None or closed.at > at:
                slot.events = [e for e in slot.events if e.kind != "close"]
                self.close(slot, CloseReason.PATIENT_CANCELLED, at, note)

    def defer(self, slot: _Slot, closed: _Event) -> None:
        """A medical reason defers the member for 3–12 months (DESIGN.md §3: deferred, with until)."""
        until = _local_day(closed.at) + timedelta(days=self.rng.randint(90, 365))
        slot.events.append(_Event(closed.at + timedelta(minutes=5), "defer", until=until, note=closed.note))
        slot.events.append(_Event(_at(until, 9 * 60), "reactivate"))


# -- matching members to searches ---------------------------------------------------------------------
_FOREVER = datetime.max.replace(tzinfo=UTC)


class _Matcher:
    """Picks each search's members: eligible on the day, best matches first; one re-mobilisation a year."""

    def __init__(self, registry: _Registry, retiring: Iterable[int], seed: int) -> None:
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

    def choose(self, number: int, patient: Typing, opened: datetime, shape: _Shape) -> list[int]:
        """Members for the list: first those to re-mobilise (prefer younger, male), then the rest."""
        eligible = self.allowed & (self.searchable_from <= _local_day(opened).toordinal())
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

    def reserve(self, member: int, slot: _Slot) -> None:
        start = slot.time_of(CaseStage.REMOBILISING)
        if start is None:
            return
        self.remobilised[member] = True
        closed = slot.closed
        free = closed.at if closed and closed.reason in _RELEASING and closed.at < _YEAR_END else _FOREVER
        self.busy[member] = (start, free)


# -- the year's plan ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Search:
    id: str
    patient_code: str
    centre: str
    diagnosis: str
    urgency: str
    opened: datetime
    typing: Typing
    typed_on: date


@dataclass(frozen=True, order=True)
class _Step:
    at: datetime
    seq: int
    case: int = field(compare=False)
    event: _Event = field(compare=False)


@dataclass
class _Plan:
    drives: list[_Drive]
    registry: _Registry
    retirements: list[tuple[int, datetime]]
    searches: list[_Search] = field(default_factory=list)
    cases: list[tuple[int, int]] = field(default_factory=list)  # (search, member)
    steps: list[_Step] = field(default_factory=list)

    def add_case(self, search: int, member: int, opened: datetime, slot: _Slot) -> None:
        case = len(self.cases)
        self.cases.append((search, member))
        for event in [_Event(opened, "open"), *slot.events]:
            if event.at < _YEAR_END:  # what would happen in 2022 stays unwritten: those cases are open
                self.steps.append(_Step(event.at, len(self.steps), case, event))


def _plan(seed: int, figures: Mapping[str, int]) -> _Plan:
    rng = random.Random(seed)
    registry = _Registry()
    drives = [*_prior_drives(rng), *_drives_2021(figures["recruitment_events"], figures["registered"], rng)]
    for drive in drives:
        registry.sign_up(drive, rng, drive.held_on + _TYPING_DELAY)
    retirements = [
        (member, _at(limit, 9 * 60))
        for member, record in enumerate(registry.records)
        if (limit := _birthday(record.birth_date, _DONATE_MAX_AGE + 1)) <= date(YEAR, 12, 31)
    ]
    plan = _Plan(drives, registry, retirements)
    scheduler = _Scheduler(rng)
    carried = [(scheduler.plan(shape, carried_in=True), shape) for shape in _carried_in(rng)]
    rest = _shapes(_still_to_count(figures, [slots for (_, slots), _ in carried]), rng)
    searches = sorted([*carried, *((scheduler.plan(shape), shape) for shape in rest)], key=lambda s: s[0][0])
    matcher = _Matcher(registry, (member for member, _ in retirements), seed)
    numbers: dict[int, int] = {}  # patient codes are numbered per year of request
    for index, ((opened, slots), shape) in enumerate(searches):
        year = _local_day(opened).year
        numbers[year] = numbers.get(year, 0) + 1
        search = _new_search(f"P{year % 100}-{numbers[year]:04d}", opened, rng)
        plan.searches.append(search)
        for k, (slot, member) in enumerate(
            zip(slots, matcher.choose(index, search.typing, opened, shape), strict=True)
        ):
            plan.add_case(index, member, opened + timedelta(minutes=2 * k), slot)
            matcher.reserve(member, slot)
    plan.steps.sort()
    return plan


def _carried_in(rng: random.Random) -> list[_Shape]:
    """Searches begun in the autumn before: the year does not start with an empty pipeline, so there are
    donations in January too. Their screenings fall in the previous year and do not count."""
    shapes = [_Shape(examined=1, donated=True) for _ in range(8)] + [_Shape(examined=1) for _ in range(2)]
    shapes += [_Shape(typed=1) for _ in range(4)] + [_Shape(remobilised=1) for _ in range(6)]
    shapes += [_Shape() for _ in range(10)]
    for shape in shapes:
        shape.typed = max(shape.typed, shape.examined) + (shape.examined > 0 and rng.random() < 0.3)
        shape.remobilised = max(shape.remobilised, shape.typed) + rng.randint(0, 2) * (shape.typed > 0)
        shape.screened = shape.remobilised + rng.randint(1, 8)
    return shapes


_FIGURE_OF_STAGE = {
    CaseStage.REMOBILISING: "remobilisations",
    CaseStage.HIGH_RES_TYPING: "high_res_samples",
    CaseStage.EXAM: "pre_donation_exams",
    CaseStage.DONATION: "donations",
}


def _still_to_count(figures: Mapping[str, int], carried: Iterable[list[_Slot]]) -> dict[str, int]:
    """The year's figures less the stage entries the carried-in searches make inside the year."""
    start = datetime(YEAR, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    remaining = dict(figures)
    for slots in carried:
        for event in (e for slot in slots for e in slot.events):
            if event.stage in _FIGURE_OF_STAGE and start <= event.at < _YEAR_END:
                remaining[_FIGURE_OF_STAGE[event.stage]] -= 1
    return remaining


def _new_search(patient_code: str, opened: datetime, rng: random.Random) -> _Search:
    return _Search(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        patient_code=patient_code,
        centre=rng.choices([c for c, _ in _CENTRES], weights=[int(w) for _, w in _CENTRES])[0],
        diagnosis=rng.choices([d for d, _ in _DIAGNOSES], weights=[int(w) for _, w in _DIAGNOSES])[0],
        urgency="urgent" if rng.random() < 0.12 else "routine",
        opened=opened,
        typing=_typing(rng),
        typed_on=_local_day(opened) - timedelta(days=rng.randint(5, 40)),
    )


# -- writing it through the services ------------------------------------------------------------------
def replay_zhengzhou_2021(
    *,
    session: Session,
    policy: ImportPolicy,
    seed: int = 2021,
    progress: Callable[[str], None] | None = None,
) -> FunnelCounts:
    """Load the demo year and return its 2021 funnel, which equals SEED_FIGURES on a database without
    other 2021 stem-cell data. Raises ValidationError if the demo year (or any of its people) is there."""
    say = progress or (lambda _message: None)
    loaded = select(RecruitmentEvent.id).where(RecruitmentEvent.organiser == DEMO_ORGANISER)
    if session.exec(loaded).first() is not None:
        raise ValidationError("the demo year is already loaded")
    plan = _plan(seed, SEED_FIGURES)
    _refuse_known_people(session, plan.registry.records, policy)
    say(
        f"planned {len(plan.drives)} drives, {len(plan.registry.records):,} members, "
        f"{len(plan.searches)} patient searches, {len(plan.steps):,} case steps"
    )
    donor_ids = _load_registry(session, policy, plan, say)
    _retire(session, plan.retirements, donor_ids)
    _add_searches(session, plan.searches)
    say(f"{len(plan.retirements)} members past the age limit retired, {len(plan.searches)} searches added")
    _walk_cases(session, plan, donor_ids, say)
    return funnel_counts(session=session, start=date(YEAR, 1, 1), end=date(YEAR, 12, 31))


def _refuse_known_people(session: Session, records: Sequence[SignupRecord], policy: ImportPolicy) -> None:
    """Somebody already registered would be updated, not registered again, and the figures would not hold."""
    hashes = [national_id_hash(record.national_id, policy.id_salt) for record in records]
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        if session.exec(select(Donor.id).where(col(Donor.national_id_hash).in_(chunk))).first() is not None:
            raise ValidationError(
                "people of the demo year are already in the registry: load it into a new database"
            )


def _load_registry(
    session: Session, policy: ImportPolicy, plan: _Plan, say: Callable[[str], None]
) -> list[int]:
    """Each drive and its sign-ups, as the data manager imports them; returns member → donor id."""
    donor_ids = [0] * len(plan.registry.records)
    for n, (drive, members) in enumerate(zip(plan.drives, plan.registry.drive_members, strict=True)):
        if drive.held_on.year == YEAR and plan.drives[n - 1].held_on.year < YEAR:
            say(f"registry {plan.drives[0].held_on.year}–{YEAR - 1}: {members.start:,} members, {n} drives")
        event = create_event(
            session=session,
            data=RecruitmentEventCreate(
                name=drive.name,
                held_on=drive.held_on,
                location=drive.location,
                district=drive.district,
                organiser=DEMO_ORGANISER,
            ),
        )
        records = plan.registry.records[members.start : members.stop]
        report = import_records(session=session, records=records, policy=policy, event=event, actor=ACTOR)
        rows = session.exec(select(Donor.code, Donor.id).where(Donor.event_id == event.id))
        ids = {code: donor_id for code, donor_id in rows if donor_id is not None}
        for accepted in report.accepted:
            donor_ids[members.start + accepted.row - 2] = ids[accepted.code]
        if report.count("created") != len(records):  # pragma: no cover - refused up front
            raise ValidationError(f"drive {drive.name}: some sign-ups were already members")
    drives = [d for d in plan.drives if d.held_on.year == YEAR]
    say(f"{YEAR}: {len(drives)} drives, {sum(d.size for d in drives):,} sign-ups")
    return donor_ids


def _retire(session: Session, retirements: Sequence[tuple[int, datetime]], donor_ids: Sequence[int]) -> None:
    """Members past the donation age limit (CMDP: 55) retire on their next birthday, in one transaction."""
    with transaction(session):
        for member, at in retirements:
            donor = session.get(Donor, donor_ids[member])
            assert donor is not None
            change_registry_status(
                session=session,
                donor=donor,
                to=RegistryStatus.RETIRED,
                actor=ACTOR,
                at=at,
                reason=f"age limit: {_DONATE_MAX_AGE} (CMDP)",
                commit=False,
            )


def _add_searches(session: Session, searches: Sequence[_Search]) -> None:
    with transaction(session):
        for s in searches:
            session.add(
                PatientSearch(
                    id=s.id,
                    patient_code=s.patient_code,
                    centre=s.centre,
                    diagnosis=s.diagnosis,
                    urgency=s.urgency,
                    requested_on=_local_day(s.opened),
                )
            )
        session.flush()  # the typings point at the searches
        for s in searches:
            typing = HlaTyping(search_id=s.id, resolution="high", sampled_on=s.typed_on)
            for cell, allele in _hla_cells(s.typing).items():
                setattr(typing, cell.lower(), allele)
            session.add(typing)


_STEPS_PER_COMMIT = 500


def _walk_cases(session: Session, plan: _Plan, donor_ids: Sequence[int], say: Callable[[str], None]) -> None:
    """Every case step in time order, through the same services the flows call. Steps are grouped into
    transactions of `_STEPS_PER_COMMIT` (the services join the caller's unit of work with commit=False);
    each service still checks its move and the case version."""
    case_ids = [""] * len(plan.cases)
    for n, step in enumerate(plan.steps, start=1):
        search, member = plan.cases[step.case]
        event = step.event
        if event.kind == "open":
            case = open_case(
                session=session,
                search_id=plan.searches[search].id,
                donor_id=donor_ids[member],
                actor=ACTOR,
                at=event.at,
                commit=False,
            )
            case_ids[step.case] = case.id
        elif event.kind == "advance":
            assert event.stage is not None
            advance_case(
                session=session,
                case_id=case_ids[step.case],
                to=event.stage,
                actor=ACTOR,
                at=event.at,
                commit=False,
            )
        elif event.kind == "close":
            assert event.reason is not None
            close_case(
                session=session,
                case_id=case_ids[step.case],
                reason=event.reason,
                actor=ACTOR,
                at=event.at,
                note=event.note,
                commit=False,
            )
        else:
            _defer_or_reactivate(session, donor_ids[member], event)
        if n % _STEPS_PER_COMMIT == 0 or n == len(plan.steps):
            session.commit()
        if n % 1000 == 0 or n == len(plan.steps):
            say(f"case steps: {n:,} of {len(plan.steps):,}")


def _defer_or_reactivate(session: Session, donor_id: int, event: _Event) -> None:
    donor = session.get(Donor, donor_id)
    assert donor is not None
    deferring = event.kind == "defer"
    change_registry_status(
        session=session,
        donor=donor,
        to=RegistryStatus.DEFERRED if deferring else RegistryStatus.ACTIVE,
        actor=ACTOR,
        at=event.at,
        until=event.until,
        reason=f"medical deferral: {event.note}"[:200] if deferring else "deferral ended",
        commit=False,
    )
