"""Follow-ups after a stem-cell donation (DESIGN.md §6; DKMS: day 2, week 1, month 1, month 6, then yearly
to year 10, on calendar dates): the questionnaire message on its day, reminders while unanswered, then lost.

due ──(its day)──> reminded ──(answer_days unanswered, < max_reminders sent)──> reminded again + a task
  └──(fell due before the window)──> missed        └──(max_reminders sent, unanswered)──> lost
A lost year-10 follow-up with every other one answered, lost, missed or cancelled closes the case
`lost_to_follow_up`. The open follow-ups of a member who withdrew or died are cancelled; so are those of a
case no longer in its follow-up stage (completed by the answer side, or closed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.cases import CaseStage, CaseStatus, CloseReason, DonorCase, FollowUp, close_case
from models.outreach import enqueue
from models.registry import NOT_CONTACTED, Donor
from models.reminders.config import ReminderConfig
from models.reminders.followup_answers import follow_up_kind
from models.reminders.ledger import Action, missed_task, open_task

# The engine's UPDATEs need not search the session's identity map for the rows they change (costly with a
# batch of members loaded): nothing reads those objects' changed columns afterwards.
_NO_SYNC = {"synchronize_session": False}

__all__ = ["cancel_not_contacted", "scan_due", "scan_unanswered"]

KIND = "follow_up"
OPEN = ("due", "reminded")
FINISHED = frozenset({"answered", "lost", "missed", "cancelled"})
LAST_LABEL = "year-10"

Row = tuple[FollowUp, DonorCase, str, str]  # the follow-up, its case, the member's code and status


def _batches(session: Session, where: list[Any], config: ReminderConfig) -> Iterator[list[Row]]:
    """The follow-ups matching `where` with their case and member, a batch at a time. The ids come first
    from the scan's own index (an ORDER BY id there would walk the primary key instead)."""
    ids = sorted(i for i in session.exec(select(FollowUp.id).where(*where)).all() if i is not None)
    for start in range(0, len(ids), config.batch_size):
        chunk = ids[start : start + config.batch_size]
        statement = (
            select(FollowUp, DonorCase, Donor.code, Donor.status)
            .join(DonorCase, col(DonorCase.id) == FollowUp.case_id)
            .join(Donor, col(Donor.id) == FollowUp.donor_id)
            .where(col(FollowUp.id).in_(chunk))
            .order_by(col(FollowUp.id))
        )
        yield list(session.exec(statement).all())


def _stopped(row: Row) -> Action | None:
    """Withdrawn or deceased member, or a case no longer following up: the follow-up is cancelled."""
    follow_up, case, _code, donor_status = row
    if donor_status not in NOT_CONTACTED and (
        case.status == CaseStatus.ACTIVE and case.stage == CaseStage.FOLLOW_UP
    ):
        return None
    return Action(KIND, None, follow_up.due_on, "skipped", _set_status(follow_up.id, "cancelled"))


def _set_status(follow_up_id: int | None, status: str, **values: Any) -> Any:
    def effect(session: Session) -> None:
        session.execute(
            update(FollowUp).where(col(FollowUp.id) == follow_up_id).values(status=status, **values),
            execution_options=_NO_SYNC,
        )

    return effect


def _send(follow_up: FollowUp, code: str, key: str, day: date, sent: int) -> Any:
    """Queue the questionnaire message and count the reminder on the follow-up."""
    kind = follow_up_kind(follow_up.label)
    donor_id, fid = follow_up.donor_id, follow_up.id

    def effect(session: Session) -> None:
        donor = session.get(Donor, donor_id)
        assert donor is not None
        enqueue(
            session=session,
            donor=donor,
            template_key="follow_up",
            context={"code": code, "label": kind, "due_on": follow_up.due_on.isoformat()},
            key=key,
        )
        _set_status(fid, "reminded", reminders_sent=sent, last_reminded_on=day)(session)

    return effect


def scan_due(session: Session, day: date, config: ReminderConfig) -> Iterator[list[Action]]:
    """Follow-ups due on or before `day` and never reminded: sent when within the window, else missed."""
    where = [col(FollowUp.status) == "due", col(FollowUp.due_on) <= day]
    start = config.window_start(day)
    for rows in _batches(session, where, config):
        yield [_due_action(row, day, start) for row in rows]


def _due_action(row: Row, day: date, start: date) -> Action:
    stopped = _stopped(row)
    if stopped is not None:
        return stopped
    follow_up, _case, code, _donor_status = row
    kind = follow_up_kind(follow_up.label)
    key = f"reminder:follow_up:{follow_up.case_id}:{kind}"
    ids: dict[str, Any] = {"donor_id": follow_up.donor_id, "case_id": follow_up.case_id}
    if follow_up.due_on < start:
        missed = _missed(follow_up, key)
        return Action(KIND, key, follow_up.due_on, "missed", missed, tasks=("missed_reminder",), **ids)
    send = _send(follow_up, code, key, day, 1)
    return Action(KIND, key, follow_up.due_on, "enqueued", send, enqueues=(KIND,), **ids)


def _missed(follow_up: FollowUp, key: str) -> Any:
    def effect(session: Session) -> None:
        _set_status(follow_up.id, "missed")(session)
        missed_task(
            session, key, KIND, follow_up.due_on, case_id=follow_up.case_id, donor_id=follow_up.donor_id
        )

    return effect


def scan_unanswered(session: Session, day: date, config: ReminderConfig) -> Iterator[list[Action]]:
    """Reminded follow-ups still unanswered `answer_days` after their last reminder: reminded again with
    a coordinator task, or lost after the last reminder (and the case closed if that was year 10)."""
    latest = day - timedelta(days=config.answer_days)
    where = [col(FollowUp.status) == "reminded", col(FollowUp.last_reminded_on) <= latest]
    start = config.window_start(day)
    for rows in _batches(session, where, config):
        yield [_unanswered_action(row, day, start, config) for row in rows]


def _unanswered_action(row: Row, day: date, start: date, config: ReminderConfig) -> Action:
    stopped = _stopped(row)
    if stopped is not None:
        return stopped
    follow_up, _case, code, _donor_status = row
    assert follow_up.last_reminded_on is not None
    due = follow_up.last_reminded_on + timedelta(days=config.answer_days)
    kind = follow_up_kind(follow_up.label)
    ids: dict[str, Any] = {"donor_id": follow_up.donor_id, "case_id": follow_up.case_id}
    if follow_up.reminders_sent >= config.max_reminders:
        key = f"reminder:follow_up_lost:{follow_up.case_id}:{kind}"
        return Action(KIND, key, due, "skipped", _lost(follow_up, day, config), **ids)
    n = follow_up.reminders_sent + 1
    key = f"reminder:follow_up:{follow_up.case_id}:{kind}:{n}"
    if due < start:
        return Action(KIND, key, due, "missed", _missed(follow_up, key), tasks=("missed_reminder",), **ids)
    send = _send(follow_up, code, key, day, n)

    def effect(session: Session) -> None:
        send(session)
        open_task(
            session,
            key=f"task:follow_up_unanswered:{follow_up.case_id}:{kind}:{n}",
            kind="follow_up_unanswered",
            due_on=day,
            detail={"member_code": code, "kind": kind, "due_on": follow_up.due_on.isoformat(), "reminder": n},
            **ids,
        )

    return Action(
        KIND, key, due, "enqueued", effect, enqueues=(KIND,), tasks=("follow_up_unanswered",), **ids
    )


def _lost(follow_up: FollowUp, day: date, config: ReminderConfig) -> Any:
    def effect(session: Session) -> None:
        _set_status(follow_up.id, "lost")(session)
        if follow_up.label == LAST_LABEL:
            _close_if_lost(session, follow_up.case_id, day, config)

    return effect


def _close_if_lost(session: Session, case_id: str, day: date, config: ReminderConfig) -> None:
    """Year 10 went unanswered and nothing is left open: the case closes as lost to follow-up."""
    statuses = session.exec(select(FollowUp.status).where(FollowUp.case_id == case_id)).all()
    if not all(status in FINISHED for status in statuses):
        return
    case = session.get(DonorCase, case_id)
    if case is None or case.status != CaseStatus.ACTIVE or case.stage != CaseStage.FOLLOW_UP:
        return
    close_case(
        session=session,
        case_id=case_id,
        reason=CloseReason.LOST_TO_FOLLOW_UP,
        actor=config.actor,
        note=f"year 10 unanswered after {config.max_reminders} reminders ({day.isoformat()})",
    )


def cancel_not_contacted(session: Session) -> int:
    """Open follow-ups of members who withdrew or died: cancelled at once, whatever their due date (read
    first, so a day with nothing to cancel writes nothing). The use cases cancel them too (a withdrawal
    through an ATLAS file does not), so this is the engine's own guarantee."""
    found = session.exec(
        select(FollowUp.id)
        .join(Donor, col(Donor.id) == FollowUp.donor_id)
        .where(col(Donor.status).in_(NOT_CONTACTED), col(FollowUp.status).in_(OPEN))
    ).all()
    if found:
        session.execute(update(FollowUp).where(col(FollowUp.id).in_(found)).values(status="cancelled"))
    return len(found)
