"""What happens to each case: the timeline of one search's list. A `Slot` is one place on the list with
the events it goes through (advances, a close with its reason, a medical deferral and its end); the
`Scheduler` dates them — working days for the coordinators, any day for a collection — so that a
search's cases reach exactly the stages its `Shape` asks for, and the members not taken further close
for the reasons and in the shares registries report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from donorflow.demo_year.calendar import YEAR, YEAR_END, at_minute, local_day, workday_from
from donorflow.demo_year.searches import Shape
from models.cases import CaseStage, CloseReason

__all__ = ["RELEASING", "Event", "Kind", "Scheduler", "Slot"]

Kind = Literal["open", "advance", "close", "defer", "reactivate"]


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: Kind
    stage: CaseStage | None = None
    reason: CloseReason | None = None
    note: str | None = None
    until: date | None = None


@dataclass
class Slot:
    """One place on a search's list; `depth` 0 screened … 4 donated. Filled with a member later."""

    depth: int
    events: list[Event] = field(default_factory=list)
    failed_exam: bool = False

    @property
    def last(self) -> datetime:
        return self.events[-1].at

    def time_of(self, stage: CaseStage) -> datetime | None:
        return next((e.at for e in self.events if e.stage is stage), None)

    @property
    def closed(self) -> Event | None:
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
RELEASING = (CloseReason.NOT_SELECTED, CloseReason.PATIENT_CANCELLED)  # the member is free again


class Scheduler:
    """Dates for one search's cases: working days for the coordinators, any day for a collection."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def later(self, after: datetime, low: int, high: int, *, workday: bool = True) -> datetime:
        day = local_day(after) + timedelta(days=self.rng.randint(low, high))
        moment = at_minute(workday_from(day) if workday else day, self.rng.randint(9 * 60, 17 * 60))
        return max(moment, after + timedelta(hours=1))

    def plan(self, shape: Shape, *, carried_in: bool = False) -> tuple[datetime, list[Slot]]:
        """When the search's screening list came, and its slots; every stage entry falls before the year's
        end. A search carried in from the autumn before has its screenings (and maybe more) in that year."""
        span = 0 if not shape.remobilised else 25 if not shape.typed else 55 if not shape.examined else 100
        span += 25 * shape.donated + 35 * shape.failed_first
        first, last = date(YEAR, 1, 4), date(YEAR, 12, 28) - timedelta(days=span)
        if carried_in:
            first, last = date(YEAR - 1, 9, 1), date(YEAR - 1, 12, 24)
        while True:  # a few tries at most: the span allows for holidays in most draws
            day = workday_from(first + timedelta(days=self.rng.randint(0, (last - first).days)))
            opened = at_minute(day, 9 * 60 + self.rng.randint(0, 90))
            slots = self.slots(shape, opened)
            if all(e.at < YEAR_END for s in slots for e in s.events if e.kind == "advance"):
                return opened, slots

    def slots(self, shape: Shape, opened: datetime) -> list[Slot]:
        depths = [4] * shape.donated + [3] * (shape.examined - shape.donated)
        depths += [2] * (shape.typed - shape.examined) + [1] * (shape.remobilised - shape.typed)
        slots = [Slot(depth) for depth in [*depths, *[0] * (shape.screened - shape.remobilised)]]
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

    def advance(self, slot: Slot, stage: CaseStage, at: datetime) -> None:
        slot.events.append(Event(at, "advance", stage=stage))

    def close(self, slot: Slot, reason: CloseReason, at: datetime, note: str) -> None:
        slot.events.append(Event(at, "close", reason=reason, note=note))

    def work_up(self, examined: list[Slot]) -> None:
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

    def close_the_rest(self, slots: list[Slot], opened: datetime) -> None:
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

    def cancel(self, slots: list[Slot], opened: datetime) -> None:
        """The patient's transplant is off: every case still open closes as patient_cancelled."""
        moves = [e.at for s in slots for e in s.events if e.kind == "advance"]
        at = self.later(max(moves, default=opened), 3, 30)
        note = self.rng.choice(_PATIENT_CANCELLED)
        for slot in slots:
            if (closed := slot.closed) is None or closed.at > at:
                slot.events = [e for e in slot.events if e.kind != "close"]
                self.close(slot, CloseReason.PATIENT_CANCELLED, at, note)

    def defer(self, slot: Slot, closed: Event) -> None:
        """A medical reason defers the member for 3–12 months (DESIGN.md §3: deferred, with until)."""
        until = local_day(closed.at) + timedelta(days=self.rng.randint(90, 365))
        slot.events.append(Event(closed.at + timedelta(minutes=5), "defer", until=until, note=closed.note))
        slot.events.append(Event(at_minute(until, 9 * 60), "reactivate"))
