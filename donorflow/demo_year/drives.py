"""The drives: where and when the branch recruited, from the registry's first years (2001–2020) to the
drives of 2021. Venues come by kind (universities in term, companies and hospitals on working days,
squares on days off), each venue takes its turn, and the sign-ups are shared out unevenly, universities
being big; two observance days are held on a square whatever the weekday.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from donorflow.demo_year.calendar import NO_DRIVES, TERM_BREAKS, YEAR, date_range, is_workday
from donorflow.demo_year.shares import apportion, table

__all__ = ["Drive", "drives_2021", "prior_drives"]

_PRIOR_MEMBERS = 6000  # members who joined 2001–2020, enough that screenings reach many people

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
    (venue, district, kind) for kind, text in _VENUES_BY_KIND.items() for venue, district in table(text)
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
class Drive:
    name: str
    held_on: date
    location: str
    district: str
    kind: str
    size: int


def _drive_days(kind: str, year: int) -> list[date]:
    days = date_range(date(year, 1, 4), date(year, 12, 20))
    if year == YEAR:
        days = [d for d in days if d not in NO_DRIVES]
        if kind == "university":
            days = [d for d in days if d not in TERM_BREAKS]
        return [d for d in days if is_workday(d) != (kind == "square")]  # squares on days off
    first = date(2020, 5, 1) if year == 2020 else date(year, 3, 1)  # 2020: no gatherings before May
    days = [d for d in days if d >= first and d.month not in (1, 2, 7, 8)]
    return [d for d in days if (d.weekday() < 5) != (kind == "square")]


def _drives_of_year(year: int, count: int, members: int, rng: random.Random) -> list[Drive]:
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
    sizes = apportion(members, weights, minimum=min(6, members // count))
    seen: dict[str, int] = {}
    drives = []
    for (day, venue, district, kind), size in zip(slots, sizes, strict=True):
        name = f"{venue} {_SEASONS.get(day.month, '冬季')}招募"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f"（第{'一二三四五六七八九十'[min(seen[name], 10) - 1]}场）"
        drives.append(Drive(name, day, venue, district, kind, size))
    return drives


def _kind_counts(count: int) -> dict[str, int]:
    shares = list(_KIND_SHARE.values())
    return dict(zip(_KIND_SHARE, apportion(count, shares), strict=True))


def drives_2021(count: int, members: int, rng: random.Random) -> list[Drive]:
    special = [
        Drive(name, day, venue, district, "square", 0) for day, name, venue, district in _SPECIAL_DRIVES
    ]
    usual = _drives_of_year(YEAR, count - len(special), members, rng)
    weights = [float(d.size) for d in usual] + [40.0 * rng.lognormvariate(0, 0.3) for _ in special]
    sizes = apportion(members, weights, minimum=6)
    drives = [
        Drive(d.name, d.held_on, d.location, d.district, d.kind, n)
        for d, n in zip([*usual, *special], sizes, strict=True)
    ]
    return sorted(drives, key=lambda d: (d.held_on, d.name))


def prior_drives(rng: random.Random) -> list[Drive]:
    """2001–2020: a registry that grew year by year, a drive for every ~75 sign-ups."""
    years = list(range(2001, YEAR))
    members = apportion(_PRIOR_MEMBERS, [(y - 2000) ** 1.3 for y in years], minimum=40)
    drives: list[Drive] = []
    for year, n in zip(years, members, strict=True):
        drives += _drives_of_year(year, max(1, round(n / 75)), n, rng)
    return drives
