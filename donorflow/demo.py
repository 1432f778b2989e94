"""Deterministic synthetic sign-up sheets: valid resident IDs, Zhengzhou districts, realistic dates.

Used by `make up` (demo data), the tests and bench/. Nothing here is a real person: names are drawn
from common surnames and given-name characters, ID numbers are generated with a valid check digit.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from stdnum.cn import ric

__all__ = ["DISTRICTS", "SIGNUP_HEADER", "SignupRow", "make_national_id", "signup_rows", "write_signup_csv"]

# Zhengzhou's districts and counties with their GB/T 2260 region codes.
DISTRICTS = {
    "中原区": "410102",
    "二七区": "410103",
    "管城回族区": "410104",
    "金水区": "410105",
    "上街区": "410106",
    "惠济区": "410108",
    "中牟县": "410122",
    "巩义市": "410181",
    "荥阳市": "410182",
    "新密市": "410183",
    "新郑市": "410184",
    "登封市": "410185",
}
ZHENGZHOU_CITY_CODE = "410100"
_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉浩宇欣怡子涵梓萱一诺"
_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "186",
    "133",
    "153",
    "180",
    "181",
    "189",
    "177",
    "199",
)
_BLOOD = ("A+", "B+", "O+", "AB+", "A+", "B+", "O+", "O+", "B+", "A-")
SIGNUP_HEADER = ("name", "sex", "birth_date", "national_id", "phone", "email", "blood_group", "consent_at")


@dataclass(frozen=True)
class SignupRow:
    name: str
    sex: str
    birth_date: date
    national_id: str
    phone: str
    email: str
    blood_group: str
    consent_at: datetime

    def cells(self) -> list[str]:
        return [
            self.name,
            self.sex,
            self.birth_date.isoformat(),
            self.national_id,
            self.phone,
            self.email,
            self.blood_group,
            self.consent_at.strftime("%Y-%m-%d %H:%M"),
        ]


def make_national_id(region: str, birth: date, sequence: int) -> str:
    """A syntactically valid 18-digit resident ID: odd sequence = male (GB 11643-1999)."""
    body = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


def signup_rows(
    count: int, *, seed: int = 2021, year: int = 2021, start: int = 0, day: date | None = None
) -> Iterator[SignupRow]:
    """`count` distinct people who signed up during `year` (or all on `day`), aged 18–45 then (CMDP)."""
    rng = random.Random(seed)
    regions = list(DISTRICTS.values())
    seen: set[str] = set()
    for index in range(start, start + count):
        first_day = datetime.combine(day, time(9)) if day else datetime(year, 1, 1, 9)
        consent = first_day + timedelta(days=0 if day else rng.randrange(365), minutes=rng.randrange(600))
        age_days = rng.randrange(18 * 366, 45 * 365)
        birth = (consent - timedelta(days=age_days)).date()
        male = rng.random() < 0.52
        # The sequence number makes each index unique per region and birth date; its parity gives the sex.
        sequence = (index * 2 + (1 if male else 0)) % 1000
        national_id = make_national_id(rng.choice(regions), birth, sequence)
        if national_id in seen or not ric.is_valid(national_id):
            # Several district codes date from 1983 or 1994 (stdnum knows when each existed); people born
            # earlier carry the city code. A clash of region, birth date and sequence takes another number.
            national_id = _unused_id(birth, sequence, seen)
        seen.add(national_id)
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
        phone = rng.choice(_PREFIXES) + f"{rng.randrange(10**8):08d}"
        yield SignupRow(
            name=name,
            sex="M" if male else "F",
            birth_date=birth,
            national_id=national_id,
            phone=phone,
            email=f"donor{index}@example.org",
            blood_group=rng.choice(_BLOOD),
            consent_at=consent,
        )


def _unused_id(birth: date, sequence: int, seen: set[str]) -> str:
    for step in range(1000):
        candidate = make_national_id(ZHENGZHOU_CITY_CODE, birth, (sequence + 2 * step) % 1000)
        if candidate not in seen:
            return candidate
    raise RuntimeError("no free ID sequence number left for this birth date")  # 500 people a day


def write_signup_csv(path: Path, rows: list[SignupRow], *, encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(SIGNUP_HEADER)
        writer.writerows(row.cells() for row in rows)
    return path
