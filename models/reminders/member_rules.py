"""Rules over registry members (DESIGN.md §6): the 2-yearly availability check and the age limit.

- availability_check: every `availability_months` (DKMS: 2 years) per active member, counted from the
  last check answered, else from consent (registration); `Donor.availability_due_on` holds the next date
  (set the first time the engine sees the member: the first 2-yearly date inside today's window or
  later, so a new installation does not list years of checks nobody ever owed as missed). A member
  paused ("not available until") is not asked before the pause ends.
- age_out: CMDP — members may donate up to 55 (DESIGN.md §6; a setting, registries abroad use the 61st
  birthday). On the birthday of the age limit the member retires (audited registry move), is thanked,
  and each open case of theirs becomes a coordinator task. A 29 February birthday is reached on 28
  February in a common year (models.core.birthday, the rule the demo year uses too).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.cases import CaseStatus, DonorCase
from models.core import add_months, birthday, local_date
from models.outreach import enqueue
from models.registry import Donor, RegistryStatus, change_registry_status
from models.reminders.config import ReminderConfig
from models.reminders.ledger import Action, missed_task, open_task

# The engine's UPDATEs need not search the session's identity map for the rows they change (costly with a
# batch of members loaded): nothing reads those objects' changed columns afterwards.
_NO_SYNC = {"synchronize_session": False}

__all__ = ["next_check", "retirement_day", "scan_age_out", "scan_availability"]

AVAILABILITY = "availability_check"
AGE_OUT = "age_out"
# Members who can still be asked or retired; recruited (interest only) and withdrawn ones are not.
RETIRABLE = (RegistryStatus.REGISTERED, RegistryStatus.ACTIVE, RegistryStatus.DEFERRED)


def retirement_day(birth_date: date, age_limit: int) -> date:
    """The birthday the member reaches the age limit on (29 February → 28 February in a common year)."""
    return birthday(birth_date, age_limit)


def next_check(anchor: date, not_before: date, months: int) -> date:
    """The first date `anchor` + k·`months` (k ≥ 1) on or after `not_before`."""
    step = 1
    due = add_months(anchor, months)
    while due < not_before:
        step += 1
        due = add_months(anchor, months * step)
    return due


def _set(donor_id: int | None, **values: Any) -> Any:
    def effect(session: Session) -> None:
        session.execute(
            update(Donor).where(col(Donor.id) == donor_id).values(**values), execution_options=_NO_SYNC
        )

    return effect


def _batches(session: Session, where: list[Any], config: ReminderConfig) -> Iterator[list[Donor]]:
    """The members matching `where`, a batch at a time. The ids come first from the scan's own index
    (no ORDER BY id there: it would lead the planner to walk the primary key over every member)."""
    ids = sorted(i for i in session.exec(select(Donor.id).where(*where)).all() if i is not None)
    for start in range(0, len(ids), config.batch_size):
        chunk = ids[start : start + config.batch_size]
        yield list(session.exec(select(Donor).where(col(Donor.id).in_(chunk)).order_by(col(Donor.id))).all())


def scan_availability(session: Session, day: date, config: ReminderConfig) -> Iterator[list[Action]]:
    """Active members whose check is due by `day`, and those the engine has not dated yet (dated now; one
    whose first date is already due is asked today too, so a dry run counts them as the run does)."""
    start = config.window_start(day)
    active = col(Donor.status) == RegistryStatus.ACTIVE
    for members in _batches(session, [active, col(Donor.availability_due_on).is_(None)], config):
        firsts = [(member, _first_due(member, start, config)) for member in members]
        yield [
            _availability_action(member, due, day, start, config)
            if due <= day
            else Action(AVAILABILITY, None, due, "skipped", _set(member.id, availability_due_on=due))
            for member, due in firsts
        ]
    for members in _batches(session, [active, col(Donor.availability_due_on) <= day], config):
        yield [
            _availability_action(member, member.availability_due_on, day, start, config) for member in members
        ]


def _first_due(member: Donor, start: date, config: ReminderConfig) -> date:
    """The first 2-yearly date inside today's window or later (a pause pushes it to the pause's end)."""
    anchor = member.availability_checked_on or local_date(member.consent_at or member.created_at)
    due = next_check(anchor, start, config.availability_months)
    if member.paused_until is not None and member.paused_until > due:
        due = member.paused_until
    return due


def _availability_action(
    member: Donor, due: date | None, day: date, start: date, config: ReminderConfig
) -> Action:
    assert due is not None and member.id is not None
    if member.paused_until is not None and member.paused_until > day:
        return Action(
            AVAILABILITY, None, due, "skipped", _set(member.id, availability_due_on=member.paused_until)
        )
    key = f"reminder:{AVAILABILITY}:{member.id}:{due.isoformat()}"
    after = _set(
        member.id, availability_due_on=next_check(due, day + timedelta(days=1), config.availability_months)
    )
    if due < start:

        def missed(session: Session) -> None:
            after(session)
            missed_task(session, key, AVAILABILITY, due, donor_id=member.id)

        return Action(
            AVAILABILITY, key, due, "missed", missed, donor_id=member.id, tasks=("missed_reminder",)
        )
    donor_id, code = member.id, member.code

    def send(session: Session) -> None:
        donor = session.get(Donor, donor_id)
        assert donor is not None
        enqueue(session=session, donor=donor, template_key=AVAILABILITY, context={"code": code}, key=key)
        after(session)

    return Action(AVAILABILITY, key, due, "enqueued", send, donor_id=donor_id, enqueues=(AVAILABILITY,))


def scan_age_out(session: Session, day: date, config: ReminderConfig) -> Iterator[list[Action]]:
    """Members whose age-limit birthday is `day` or earlier and who have not retired yet."""
    # Born on or before this date: reached the limit by `day` (a day more for a 29 February birth).
    latest_birth = add_months(day, -12 * config.age_limit) + timedelta(days=1)
    where = [col(Donor.status).in_(RETIRABLE), col(Donor.birth_date) <= latest_birth]
    start = config.window_start(day)
    for members in _batches(session, where, config):
        reached = [
            m for m in members if m.birth_date and retirement_day(m.birth_date, config.age_limit) <= day
        ]
        cases = _open_cases(session, [m.id for m in reached if m.id is not None])
        yield [_age_out_action(m, start, config, cases.get(m.id or 0, [])) for m in reached]


def _open_cases(session: Session, donor_ids: list[int]) -> dict[int, list[str]]:
    if not donor_ids:
        return {}
    rows = session.exec(
        select(DonorCase.donor_id, DonorCase.id)
        .where(col(DonorCase.donor_id).in_(donor_ids), col(DonorCase.status) == CaseStatus.ACTIVE)
        .order_by(col(DonorCase.id))
    ).all()
    found: dict[int, list[str]] = {}
    for donor_id, case_id in rows:
        found.setdefault(donor_id, []).append(case_id)
    return found


def _age_out_action(member: Donor, start: date, config: ReminderConfig, cases: list[str]) -> Action:
    assert member.birth_date is not None and member.id is not None
    due = retirement_day(member.birth_date, config.age_limit)
    key = f"reminder:{AGE_OUT}:{member.id}"
    donor_id, code = member.id, member.code
    missed = due < start

    def effect(session: Session) -> None:
        donor = session.get(Donor, donor_id)
        assert donor is not None
        change_registry_status(
            session=session,
            donor=donor,
            to=RegistryStatus.RETIRED,
            actor=config.actor,
            reason=f"age limit {config.age_limit} reached on {due.isoformat()}",
        )
        if missed:
            missed_task(session, key, AGE_OUT, due, donor_id=donor_id)
        else:
            enqueue(
                session=session,
                donor=donor,
                template_key="retirement_thanks",
                context={"code": code},
                key=key,
            )
        for case_id in cases:
            open_task(
                session,
                key=f"task:age_out_case:{case_id}",
                kind="age_out_case",
                due_on=due,
                detail={"member_code": code, "age_limit": config.age_limit, "retired_on": due.isoformat()},
                case_id=case_id,
                donor_id=donor_id,
            )

    tasks = ("age_out_case",) * len(cases) + (("missed_reminder",) if missed else ())
    enqueues = () if missed else (AGE_OUT,)
    outcome = "missed" if missed else "enqueued"
    return Action(AGE_OUT, key, due, outcome, effect, donor_id=donor_id, enqueues=enqueues, tasks=tasks)
