"""The reminder engine's service API: `plan` (a dry run) and `run` for one day (Asia/Shanghai).

Every rule is a scan over indexed columns that yields batches of `Action`s (models.reminders.ledger);
`run` applies each batch in one transaction (claim the ledger key, then write), `plan` only counts them.
A quiet day costs one index probe per rule. No per-donor schedule anywhere: what is due is computed from
the data each day, so a missed day is caught up by the next run (within the window).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, bindparam, exists, true
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from models.cases import CaseStage, CaseStatus, DonorCase, FollowUp
from models.core import SessionFactory, add_months
from models.registry import NOT_CONTACTED, Donor, RegistryStatus
from models.reminders import case_rules, follow_up_rules, member_rules
from models.reminders.config import ReminderConfig
from models.reminders.ledger import Action, Tally, claim, known_keys

__all__ = ["KINDS", "Plan", "RunResult", "plan", "run"]

Scan = Callable[[Session, date, ReminderConfig], Iterator[list[Action]]]

# In this order: withdrawals first (cancel), retirements before availability checks (a member retiring
# today is not asked whether they are still available).
_SCANS: tuple[Scan, ...] = (
    follow_up_rules.scan_due,
    follow_up_rules.scan_unanswered,
    member_rules.scan_age_out,
    member_rules.scan_availability,
    case_rules.scan_appointments,
    case_rules.scan_idle_cases,
)
KINDS = ("follow_up", "availability_check", "age_out", "appointment", "idle_case")


@dataclass
class RunResult:
    day: date
    tally: Tally = field(default_factory=Tally)
    cancelled: int = 0  # open follow-ups of withdrawn or deceased members cancelled

    def as_dict(self) -> dict[str, dict[str, int]]:
        return self.tally.as_dict()


@dataclass
class Plan:
    """What a run on `day` would do, by kind (nothing written)."""

    day: date
    tally: Tally = field(default_factory=Tally)
    # The reminders themselves, for `reminders due`: kind, key, due date, outcome (no personal data).
    items: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return self.tally.as_dict()


def _pending(session: Session, batch: list[Action]) -> list[Action]:
    """The batch without the reminders the ledger already holds (a second run of the day)."""
    taken = known_keys(session, [a.key for a in batch if a.key is not None])
    return [a for a in batch if a.key is None or a.key not in taken]


def plan(session: Session, day: date, config: ReminderConfig) -> Plan:
    """What `run` would send, open and record as missed on `day`; reads only."""
    result = Plan(day)
    for scan in _SCANS:
        for batch in scan(session, day, config):
            for action in _pending(session, batch):
                if action.key is None:
                    continue
                result.tally.add(action.tally())
                result.items.append(
                    {"kind": action.kind, "key": action.key, "due_on": action.due_on.isoformat(),
                     "outcome": action.outcome}
                )  # fmt: skip
    session.rollback()
    return result


def run(session_factory: SessionFactory, day: date, config: ReminderConfig) -> RunResult:
    """Deal with everything due on `day`: one transaction per batch of at most `config.batch_size`."""
    result = RunResult(day)
    with session_factory() as session:
        todo = _anything_to_do(session, day, config)
        if todo[follow_up_rules.cancel_not_contacted]:
            result.cancelled = follow_up_rules.cancel_not_contacted(session)
            session.commit()
        for scan in _SCANS:
            if not todo[scan]:
                continue
            for batch in scan(session, day, config):
                try:
                    result.tally.add(_apply(session, batch, day))
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
    return result


def _apply(session: Session, batch: list[Action], day: date) -> Tally:
    tally = Tally()
    for action in _pending(session, batch):
        if action.key is not None and not claim(session, action, day):
            continue  # another run has it (or had it): nothing twice
        action.effect(session)
        if action.key is not None:
            tally.add(action.tally())
    return tally


def _anything_to_do(session: Session, day: date, config: ReminderConfig) -> dict[Callable[..., object], bool]:
    """One query: which scans could find something today? (Each condition is a superset of its scan's.)

    Most days nothing falls due: this keeps a quiet day to one round trip on the same indexes. The
    statement is built once per setting of the idle limits and bound to the day's dates.
    """
    values = {
        "day": day,
        "answered_by": day - timedelta(days=config.answer_days),
        "latest_birth": add_months(day, -12 * config.age_limit) + timedelta(days=1),
    }
    probe = _probe(CaseStage.FOLLOW_UP.value in config.stage_limits)
    flags = [bool(flag) for flag in session.execute(probe, values).one()]
    due, unanswered, age_out, undated, availability, workup, follow_up_idle, not_contacted = flags
    return {
        follow_up_rules.scan_due: due,
        follow_up_rules.scan_unanswered: unanswered,
        member_rules.scan_age_out: age_out,
        member_rules.scan_availability: undated or availability,
        case_rules.scan_appointments: workup,
        case_rules.scan_idle_cases: workup or follow_up_idle,
        follow_up_rules.cancel_not_contacted: not_contacted,
    }


@lru_cache(maxsize=2)
def _probe(follow_up_limited: bool) -> Any:
    day, answered_by = bindparam("day", type_=Date), bindparam("answered_by", type_=Date)
    latest_birth = bindparam("latest_birth", type_=Date)
    active = col(Donor.status) == RegistryStatus.ACTIVE
    workup = [stage.value for stage in CaseStage if stage not in (CaseStage.FOLLOW_UP, CaseStage.COMPLETED)]
    idle_follow_up = (
        col(DonorCase.due_at).is_not(None) | true()
        if follow_up_limited
        else col(DonorCase.due_at).is_not(None)
    )
    return sa_select(
        *(
            exists().where(col(FollowUp.status) == "due", col(FollowUp.due_on) <= day),
            exists().where(col(FollowUp.status) == "reminded", col(FollowUp.last_reminded_on) <= answered_by),
            exists().where(
                col(Donor.status).in_(member_rules.RETIRABLE), col(Donor.birth_date) <= latest_birth
            ),
            exists().where(active, col(Donor.availability_due_on).is_(None)),
            exists().where(active, col(Donor.availability_due_on) <= day),
            # Cases in work-up (appointments, idle), and follow-up cases with an idle limit.
            exists().where(col(DonorCase.status) == CaseStatus.ACTIVE, col(DonorCase.stage).in_(workup)),
            exists().where(
                col(DonorCase.status) == CaseStatus.ACTIVE,
                col(DonorCase.stage) == CaseStage.FOLLOW_UP,
                idle_follow_up,
            ),
            exists()
            .where(col(Donor.status).in_(NOT_CONTACTED), col(FollowUp.status).in_(follow_up_rules.OPEN))
            .where(col(FollowUp.donor_id) == Donor.id),
        )
    )
