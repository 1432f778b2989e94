"""Everything a coordinator reads about one case on its page (issue 12 item 2), no personal data: the
member masked (DonorPublic), the patient search, the grades, the audit trail, the messages (template,
channel, status: never an address or a rendered text), follow-ups, coordinator tasks, its flow runs.

In the reminders room because it reads the cases, the outbox and the coordinator tasks at once
(models/__init__.py: registry ← outreach ← cases ← reminders).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from models.cases import CaseGrade, CaseRecord, DonorCase, FollowUp, PatientSearch, get_case
from models.core import StageEvent
from models.outreach import Outbox
from models.registry import Donor, DonorPublic, RecruitmentEvent, latest_typing
from models.reminders.followup_answers import follow_up_kind
from models.reminders.tables import CoordinatorTask

__all__ = ["CaseFile", "MessageLine", "case_file"]


@dataclass(frozen=True)
class MessageLine:
    """One outbox row about the case: what was sent, how, and how it went (no address, no text)."""

    template_key: str
    kind: str
    channel: str | None
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class FollowUpLine:
    kind: str
    due_on: date
    status: str


@dataclass(frozen=True)
class CaseFile:
    case: DonorCase
    member: DonorPublic
    member_opt_outs: tuple[str, ...]  # the channels the member refuses
    drive: str | None
    search: PatientSearch | None
    grades: list[CaseGrade]
    events: list[StageEvent]  # this case's trail: stage moves, claims, with who and which run
    records: list[CaseRecord]  # what coordinators answered at each stage (keys and times shown)
    messages: list[MessageLine]
    follow_ups: list[FollowUpLine]
    tasks: list[CoordinatorTask]
    flow_run_ids: list[str]  # Prefect flow runs that worked on it, oldest first


def _is_run_id(value: str | None) -> bool:
    """A Prefect flow run id (a UUID), not a local run's stand-in ("local-remobilise")."""
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def case_file(*, session: Session, case_id: str) -> CaseFile:
    """The case's page, or NotFoundError."""
    case = get_case(session=session, case_id=case_id)
    donor = session.get(Donor, case.donor_id)
    assert donor is not None and donor.id is not None  # a case's member is never deleted
    drive = session.get(RecruitmentEvent, donor.event_id) if donor.event_id is not None else None
    events = list(
        session.exec(
            select(StageEvent)
            .where(StageEvent.case_id == case_id)
            .order_by(col(StageEvent.at), col(StageEvent.id))
        ).all()
    )
    records = list(
        session.exec(
            select(CaseRecord)
            .where(CaseRecord.case_id == case_id)
            .order_by(col(CaseRecord.at), col(CaseRecord.id))
        ).all()
    )
    runs: list[str] = []
    for run_id in [*(e.flow_run_id for e in events), *(r.flow_run_id for r in records), case.live_run_id]:
        if _is_run_id(run_id) and run_id not in runs:
            assert run_id is not None
            runs.append(run_id)
    # Member messages are keyed case:<id>:<purpose> (models/cases/messages.py); coordinator alerts name
    # the case in their key, except a waiting form's, keyed by its run (models/cases/alerts.py).
    keys = [col(Outbox.idempotency_key).startswith(f"case:{case_id}:")]
    keys += [col(Outbox.idempotency_key).like(f"alert:%:{case_id}%")]
    keys += [col(Outbox.idempotency_key).startswith(f"alert:form:{run}:") for run in runs]
    outbox = session.exec(
        select(Outbox).where(or_(*keys)).order_by(col(Outbox.created_at), col(Outbox.id))
    ).all()
    follow_ups = session.exec(
        select(FollowUp).where(FollowUp.case_id == case_id).order_by(col(FollowUp.due_on), col(FollowUp.id))
    ).all()
    tasks = session.exec(
        select(CoordinatorTask)
        .where(CoordinatorTask.case_id == case_id)
        .order_by(col(CoordinatorTask.due_on), col(CoordinatorTask.id))
    ).all()
    grades = session.exec(
        select(CaseGrade).where(CaseGrade.case_id == case_id).order_by(col(CaseGrade.at), col(CaseGrade.id))
    ).all()
    return CaseFile(
        case=case,
        member=DonorPublic.from_donor(donor, latest_typing(session=session, donor_id=donor.id)),
        member_opt_outs=tuple(c for c in ("sms", "email", "wechat") if getattr(donor, f"opt_out_{c}")),
        drive=drive.name if drive else None,
        search=session.get(PatientSearch, case.search_id),
        grades=list(grades),
        events=events,
        records=records,
        messages=[
            MessageLine(m.template_key, m.kind, m.channel, m.status, m.attempts, m.created_at, m.sent_at)
            for m in outbox
        ],
        follow_ups=[FollowUpLine(follow_up_kind(f.label), f.due_on, f.status) for f in follow_ups],
        tasks=list(tasks),
        flow_run_ids=runs,
    )
