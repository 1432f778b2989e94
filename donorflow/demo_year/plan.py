"""The year's plan: everything the seed decides, before anything is written. `plan_year` signs up the
drives' people, retires those past the age limit, dates the searches carried in from the autumn before
and those of the year (whose shapes make up what the carried-in ones leave of the figures), fills each
search's slots with the matcher's members and lays every case step out in time order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from donorflow.demo_year.calendar import SHANGHAI, YEAR, YEAR_END, at_minute, local_day
from donorflow.demo_year.drives import Drive, drives_2021, prior_drives
from donorflow.demo_year.matching import Matcher
from donorflow.demo_year.people import Registry
from donorflow.demo_year.searches import Search, carried_in_shapes, new_search, search_shapes
from donorflow.demo_year.timelines import Event, Scheduler, Slot
from models.cases import CaseStage
from models.core import birthday

__all__ = ["Plan", "Step", "plan_year"]

_TYPING_DELAY = timedelta(days=35)  # a 2021 sign-up is searchable once the lab has typed the sample


@dataclass(frozen=True, order=True)
class Step:
    at: datetime
    seq: int
    case: int = field(compare=False)
    event: Event = field(compare=False)


@dataclass
class Plan:
    drives: list[Drive]
    registry: Registry
    retirements: list[tuple[int, datetime]]
    searches: list[Search] = field(default_factory=list)
    cases: list[tuple[int, int]] = field(default_factory=list)  # (search, member)
    steps: list[Step] = field(default_factory=list)

    def add_case(self, search: int, member: int, opened: datetime, slot: Slot) -> None:
        case = len(self.cases)
        self.cases.append((search, member))
        for event in [Event(opened, "open"), *slot.events]:
            if event.at < YEAR_END:  # what would happen in 2022 stays unwritten: those cases are open
                self.steps.append(Step(event.at, len(self.steps), case, event))


def plan_year(seed: int, figures: Mapping[str, int], *, donate_max_age: int) -> Plan:
    """The year as the seed draws it; members retire on the birthday they reach `donate_max_age` (Settings,
    CMDP 55), the rule the reminder engine applies (models.core.birthday)."""
    rng = random.Random(seed)
    registry = Registry()
    drives = [*prior_drives(rng), *drives_2021(figures["recruitment_events"], figures["registered"], rng)]
    for drive in drives:
        registry.sign_up(drive, rng, drive.held_on + _TYPING_DELAY)
    retirements = [
        (member, at_minute(limit, 9 * 60))
        for member, record in enumerate(registry.records)
        if (limit := birthday(record.birth_date, donate_max_age)) <= date(YEAR, 12, 31)
    ]
    plan = Plan(drives, registry, retirements)
    scheduler = Scheduler(rng)
    carried = [(scheduler.plan(shape, carried_in=True), shape) for shape in carried_in_shapes(rng)]
    rest = search_shapes(_still_to_count(figures, [slots for (_, slots), _ in carried]), rng)
    searches = sorted([*carried, *((scheduler.plan(shape), shape) for shape in rest)], key=lambda s: s[0][0])
    matcher = Matcher(registry, (member for member, _ in retirements), seed)
    numbers: dict[int, int] = {}  # patient codes are numbered per year of request
    for index, ((opened, slots), shape) in enumerate(searches):
        year = local_day(opened).year
        numbers[year] = numbers.get(year, 0) + 1
        search = new_search(f"P{year % 100}-{numbers[year]:04d}", opened, rng)
        plan.searches.append(search)
        for k, (slot, member) in enumerate(
            zip(slots, matcher.choose(index, search.typing, opened, shape), strict=True)
        ):
            plan.add_case(index, member, opened + timedelta(minutes=2 * k), slot)
            matcher.reserve(member, slot)
    plan.steps.sort()
    return plan


_FIGURE_OF_STAGE = {
    CaseStage.REMOBILISING: "remobilisations",
    CaseStage.HIGH_RES_TYPING: "high_res_samples",
    CaseStage.EXAM: "pre_donation_exams",
    CaseStage.DONATION: "donations",
}


def _still_to_count(figures: Mapping[str, int], carried: Iterable[list[Slot]]) -> dict[str, int]:
    """The year's figures less the stage entries the carried-in searches make inside the year."""
    start = datetime(YEAR, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    remaining = dict(figures)
    for slots in carried:
        for event in (e for slot in slots for e in slot.events):
            if event.stage in _FIGURE_OF_STAGE and start <= event.at < YEAR_END:
                remaining[_FIGURE_OF_STAGE[event.stage]] -= 1
    return remaining
