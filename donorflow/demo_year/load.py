"""Writing the year through the services: `replay_zhengzhou_2021` plans the year and walks it through
the same services the flows call — `create_event` and `import_records` for each drive,
`change_registry_status` for retirements and deferrals, `open_case` / `advance_case` / `close_case` for
every case step in time order — so that `funnel_counts` for 2021 equals SEED_FIGURES, the `stem_cell`
block of `donorflow/data/zhengzhou-2021.json`. It refuses to load twice, or over people already there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from importlib import resources

from sqlmodel import Session, col, select

from donorflow.demo_year.calendar import YEAR, at_minute, local_day
from donorflow.demo_year.people import hla_cells
from donorflow.demo_year.plan import Plan, plan_year
from donorflow.demo_year.searches import Search
from donorflow.demo_year.timelines import Event
from models.cases import (
    FUNNEL_KEYS,
    CaseStage,
    FollowUp,
    FunnelCounts,
    PatientSearch,
    advance_case,
    close_case,
    follow_up_dates,
    funnel_counts,
    open_case,
)
from models.core import ValidationError, local_date, transaction, utcnow
from models.intake import ImportPolicy, SignupRecord, import_records, national_id_hash
from models.outreach import close_as_history
from models.registry import (
    Donor,
    HlaTyping,
    RecruitmentEvent,
    RecruitmentEventCreate,
    RegistryStatus,
    change_registry_status,
    create_event,
)

__all__ = ["ACTOR", "DEMO_ORGANISER", "SEED_FIGURES", "replay_zhengzhou_2021"]

ACTOR = "demo:zhengzhou-2021"
DEMO_ORGANISER = "郑州市红十字会（演示数据）"  # marks the demo's drives: the replay loads once


def _load_figures() -> dict[str, int]:
    text = resources.files("donorflow.data").joinpath("zhengzhou-2021.json").read_text(encoding="utf-8")
    block = json.loads(text)["stem_cell"]
    return {key: int(block[key]) for key in FUNNEL_KEYS}


SEED_FIGURES: dict[str, int] = _load_figures()


# What the demo year's outbox rows say: it replays 2021; its messages went out then, its stage events
# must not start stage runs now (`make up` relays pending events at start).
DEMO_HISTORY = "演示数据：2021 年的历史记录，不发送 demo history (2021): not sent"
DEMO_FOLLOW_UP = "演示数据：历史随访 demo history"


def replay_zhengzhou_2021(
    *,
    session: Session,
    policy: ImportPolicy,
    donate_max_age: int,
    seed: int = 2021,
    progress: Callable[[str], None] | None = None,
) -> FunnelCounts:
    """Load the demo year and return its 2021 funnel, which equals SEED_FIGURES on a database without
    other 2021 stem-cell data. Raises ValidationError if the demo year (or any of its people) is there.
    Members reaching `donate_max_age` (Settings.donate_max_age, CMDP: 55) retire on that birthday."""
    say = progress or (lambda _message: None)
    started = utcnow()
    loaded = select(RecruitmentEvent.id).where(RecruitmentEvent.organiser == DEMO_ORGANISER)
    if session.exec(loaded).first() is not None:
        raise ValidationError("the demo year is already loaded")
    plan = plan_year(seed, SEED_FIGURES, donate_max_age=donate_max_age)
    _refuse_known_people(session, plan.registry.records, policy)
    say(
        f"planned {len(plan.drives)} drives, {len(plan.registry.records):,} members, "
        f"{len(plan.searches)} patient searches, {len(plan.steps):,} case steps"
    )
    donor_ids = _load_registry(session, policy, plan, say)
    _retire(session, plan.retirements, donor_ids, donate_max_age)
    _add_searches(session, plan.searches)
    say(f"{len(plan.retirements)} members past the age limit retired, {len(plan.searches)} searches added")
    _walk_cases(session, plan, donor_ids, say)
    with transaction(session):
        closed = close_as_history(session=session, created_since=started, reason=DEMO_HISTORY)
    say(f"{closed:,} messages and pipeline events of the demo year closed as history (not sent, not emitted)")
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
    session: Session, policy: ImportPolicy, plan: Plan, say: Callable[[str], None]
) -> list[int]:
    """Each drive and its sign-ups, as the data manager imports them; returns member → donor id."""
    donor_ids = [0] * len(plan.registry.records)
    for n, (drive, members) in enumerate(zip(plan.drives, plan.registry.drive_members, strict=True)):
        if drive.held_on.year == YEAR and plan.drives[n - 1].held_on.year < YEAR:
            say(f"registry {plan.drives[0].held_on.year}–{YEAR - 1}: {members.start:,} members, {n} drives")
        with transaction(session):
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


def _retire(
    session: Session, retirements: Sequence[tuple[int, datetime]], donor_ids: Sequence[int], max_age: int
) -> None:
    """Members reaching the donation age limit (CMDP: 55) retire on that birthday, in one transaction."""
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
                reason=f"age limit: {max_age} (CMDP)",
            )


def _add_searches(session: Session, searches: Sequence[Search]) -> None:
    with transaction(session):
        for s in searches:
            session.add(
                PatientSearch(
                    id=s.id,
                    patient_code=s.patient_code,
                    centre=s.centre,
                    diagnosis=s.diagnosis,
                    urgency=s.urgency,
                    requested_on=local_day(s.opened),
                )
            )
        session.flush()  # the typings point at the searches
        for s in searches:
            typing = HlaTyping(search_id=s.id, resolution="high", sampled_on=s.typed_on)
            for cell, allele in hla_cells(s.typing).items():
                setattr(typing, cell.lower(), allele)
            session.add(typing)


_STEPS_PER_COMMIT = 500


def _schedule_follow_ups(session: Session, case_id: str, donor_id: int, entered: datetime) -> None:
    """The donation's follow-up schedule, as the donation step makes it. The contacts due before today
    are history: recorded as done ("demo history", no answers), so the reminder engine's first run does
    not list five years of follow-ups as missed, and the next one due is the one a coordinator records."""
    collected = local_date(entered) - timedelta(days=1)
    today = local_date(utcnow())
    for label, due_on in follow_up_dates(collected):
        past = due_on < today
        session.add(
            FollowUp(
                case_id=case_id,
                donor_id=donor_id,
                label=label,
                due_on=due_on,
                status="answered" if past else "due",
                done_at=at_minute(due_on, 12 * 60) if past else None,
                outcome=DEMO_FOLLOW_UP if past else None,
            )
        )


def _walk_cases(session: Session, plan: Plan, donor_ids: Sequence[int], say: Callable[[str], None]) -> None:
    """Every case step in time order, through the same services the flows call. Steps are grouped into
    transactions of `_STEPS_PER_COMMIT` (the loader owns the unit of work: services never commit); each
    service still checks its move and the case version, and a failure rolls back the open group."""
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
                announce=False,  # a year gone by: no stage flow is to start for these moves
            )
            if event.stage == CaseStage.FOLLOW_UP:  # collected the day before (timelines.work_up)
                _schedule_follow_ups(session, case_ids[step.case], donor_ids[member], event.at)
        elif event.kind == "close":
            assert event.reason is not None
            close_case(
                session=session,
                case_id=case_ids[step.case],
                reason=event.reason,
                actor=ACTOR,
                at=event.at,
                note=event.note,
            )
        else:
            _defer_or_reactivate(session, donor_ids[member], event)
        if n % _STEPS_PER_COMMIT == 0 or n == len(plan.steps):
            session.commit()
        if n % 1000 == 0 or n == len(plan.steps):
            say(f"case steps: {n:,} of {len(plan.steps):,}")


def _defer_or_reactivate(session: Session, donor_id: int, event: Event) -> None:
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
    )
