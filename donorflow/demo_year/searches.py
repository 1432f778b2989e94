"""The patient searches: who asks the branch for a donor, and how far each search gets. A `Shape` says
how many of a search's cases reach each stage; `search_shapes` splits the year's figures over searches
so that every stage sums to its figure exactly, and `carried_in_shapes` gives the searches begun the
autumn before, so the year does not start with an empty pipeline. `new_search` draws a patient: centre,
diagnosis, urgency and typing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from donorflow.demo_year.calendar import local_day
from donorflow.demo_year.people import Typing, draw_typing
from donorflow.demo_year.shares import apportion, table

__all__ = ["Search", "Shape", "carried_in_shapes", "new_search", "search_shapes"]

_SCREENED_PER_SEARCH = 5.6  # mean members of this branch on one patient's initial-screening list
_CENTRES = table(
    "河南省肿瘤医院=16 | 河南省人民医院=14 | 郑州大学第一附属医院=18 | 河南省儿童医院=5 | 北京道培医院=8 | "
    "北京大学人民医院=9 | 中国医学科学院血液病医院=7 | 苏州大学附属第一医院=6 | "
    "浙江大学医学院附属第一医院=4 | 南方医科大学南方医院=4 | 华中科技大学同济医学院附属协和医院=5 | "
    "河北燕达陆道培医院=4"
)
_DIAGNOSES = table(
    "急性髓系白血病 (AML)=35 | 急性淋巴细胞白血病 (ALL)=24 | 骨髓增生异常综合征 (MDS)=11 | "
    "重型再生障碍性贫血 (SAA)=12 | 慢性髓系白血病 (CML)=3 | 非霍奇金淋巴瘤=6 | 重型β地中海贫血=4 | "
    "混合表型急性白血病=3 | 骨髓纤维化=2"
)


@dataclass
class Shape:
    """How far one search's cases get: screened ≥ re-mobilised ≥ typed ≥ examined ≥ donated."""

    screened: int = 1
    remobilised: int = 0
    typed: int = 0
    examined: int = 0
    donated: bool = False
    failed_first: bool = False  # the first member's work-up failed; a second one donated
    cancelled: bool = False


def search_shapes(figures: Mapping[str, int], rng: random.Random) -> list[Shape]:
    """Split the year's totals over searches so every stage sums to its figure exactly."""
    donations = figures["donations"]
    spare_exams = figures["pre_donation_exams"] - donations
    failed = min(donations, (spare_exams + 1) // 2)
    shapes = [
        Shape(examined=2 if n < failed else 1, donated=True, failed_first=n < failed)
        for n in range(donations)
    ]
    shapes += [Shape(examined=1) for _ in range(spare_exams - failed)]
    for shape in shapes:
        shape.typed = shape.examined
    spare_typed = figures["high_res_samples"] - sum(s.typed for s in shapes)
    _spread(shapes, "typed", spare_typed - spare_typed // 2, rng)
    shapes += [Shape(typed=1) for _ in range(spare_typed // 2)]
    for shape in shapes:
        shape.remobilised = shape.typed
    spare_remobilised = figures["remobilisations"] - sum(s.remobilised for s in shapes)
    shapes += [Shape(remobilised=1) for _ in range(spare_remobilised // 2)]
    _spread(shapes, "remobilised", spare_remobilised - spare_remobilised // 2, rng)
    total = figures["initial_screenings"]
    shapes += [Shape() for _ in range(max(0, round(total / _SCREENED_PER_SEARCH) - len(shapes)))]
    for shape in shapes:
        shape.screened = max(1, shape.remobilised)
        shape.cancelled = shape.examined == 0 and rng.random() < 0.08
    _spread(shapes, "screened", total - sum(s.screened for s in shapes), rng, sigma=0.8)
    if min(spare_exams, spare_typed, spare_remobilised) < 0 or sum(s.screened for s in shapes) != total:
        raise ValueError(f"the figures are not a funnel: {dict(figures)}")
    return shapes


def _spread(shapes: list[Shape], attribute: str, extra: int, rng: random.Random, sigma: float = 0.5) -> None:
    """Add `extra` to `attribute` over the shapes that already have some, unevenly."""
    if extra <= 0:
        return
    chosen = [s for s in shapes if getattr(s, attribute) > 0]
    weights = [rng.lognormvariate(0, sigma) for _ in chosen]
    for shape, add in zip(chosen, apportion(extra, weights), strict=True):
        setattr(shape, attribute, getattr(shape, attribute) + add)


def carried_in_shapes(rng: random.Random) -> list[Shape]:
    """Searches begun in the autumn before: the year does not start with an empty pipeline, so there are
    donations in January too. Their screenings fall in the previous year and do not count."""
    shapes = [Shape(examined=1, donated=True) for _ in range(8)] + [Shape(examined=1) for _ in range(2)]
    shapes += [Shape(typed=1) for _ in range(4)] + [Shape(remobilised=1) for _ in range(6)]
    shapes += [Shape() for _ in range(10)]
    for shape in shapes:
        shape.typed = max(shape.typed, shape.examined) + (shape.examined > 0 and rng.random() < 0.3)
        shape.remobilised = max(shape.remobilised, shape.typed) + rng.randint(0, 2) * (shape.typed > 0)
        shape.screened = shape.remobilised + rng.randint(1, 8)
    return shapes


@dataclass(frozen=True)
class Search:
    id: str
    patient_code: str
    centre: str
    diagnosis: str
    urgency: str
    opened: datetime
    typing: Typing
    typed_on: date


def new_search(patient_code: str, opened: datetime, rng: random.Random) -> Search:
    return Search(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        patient_code=patient_code,
        centre=rng.choices([c for c, _ in _CENTRES], weights=[int(w) for _, w in _CENTRES])[0],
        diagnosis=rng.choices([d for d, _ in _DIAGNOSES], weights=[int(w) for _, w in _DIAGNOSES])[0],
        urgency="urgent" if rng.random() < 0.12 else "routine",
        opened=opened,
        typing=draw_typing(rng),
        typed_on=local_day(opened) - timedelta(days=rng.randint(5, 40)),
    )
