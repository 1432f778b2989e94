"""What the coordinators are alerted to about a case (issue 10, item 6): a form waiting for an answer, a
case overdue at its stage, a high-resolution result. To every configured alert channel (e-mail and/or
the group bot), urgent: quiet hours do not hold them.

Each is one outbox row in the caller's transaction, stored once per idempotency key. Contexts carry the
case id and the member's and patient's codes, never personal data. `link` is a full URL (a Prefect flow
run page): the flows know the UI's address, the domain does not.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from models.cases.funnel import OverdueCase
from models.cases.summary import describe_case
from models.cases.tables import CaseGrade, DonorCase, PatientSearch
from models.core import SHANGHAI, utcnow
from models.outreach import Outbox, enqueue_alert, skip_pending
from models.registry import Donor

__all__ = [
    "alert_case_overdue",
    "alert_form_waiting",
    "form_answered",
    "alert_high_res_result",
    "alert_spear",
    "result_summary",
]


def _local(moment: datetime) -> str:
    """An ISO datetime in the branch's time (Asia/Shanghai, with its offset), to the second."""
    return moment.astimezone(SHANGHAI).replace(microsecond=0).isoformat()


def alert_form_waiting(
    *,
    session: Session,
    case_id: str,
    run_id: str,
    form_key: str,
    form: str,
    link: str,
    since: datetime | None = None,
) -> Outbox | None:
    """A stage flow run waits for a coordinator's answer to the form `form_key` ("what it asks": `form`).

    Keyed by run and form key: the run re-asking the same form when it resumes (a suspended flow runs
    again from the top) alerts once; a form asked again with the reason an answer was refused comes
    under a new key (`…-2`) and alerts again, since whoever answered may have left thinking it done.
    """
    case = describe_case(session=session, case_id=case_id)
    return enqueue_alert(
        session=session,
        template_key="alert_form_waiting",
        context={
            "case_id": case.case_id,
            "member_code": case.member_code,
            "stage": case.stage,
            "form": form,
            "since": _local(since or utcnow()),
            "link": link,
        },
        key=f"alert:form:{run_id}:{form_key}",
    )


def form_answered(*, session: Session, run_id: str, form_key: str) -> int:
    """The form `form_key` of run `run_id` was answered: its waiting alert, if not sent yet (a dispatcher
    down, a retry waiting), is skipped ("answered"), so nobody is sent to a form that no longer waits.
    An alert already sent, or being sent, stays as it is. Returns the rows skipped."""
    return skip_pending(session=session, key=f"alert:form:{run_id}:{form_key}", reason="表单已填写 answered")


def alert_case_overdue(*, session: Session, case: OverdueCase, link: str) -> Outbox | None:
    """A case waited past its stage deadline. Once per case, stage and due date: the daily report
    alerts once, and again only if the case is still overdue under a new deadline or at a new stage."""
    due_day = case.due_at.astimezone(SHANGHAI).date().isoformat()
    return enqueue_alert(
        session=session,
        template_key="alert_case_overdue",
        context={
            "case_id": case.case_id,
            "member_code": case.member_code,
            "stage": case.stage,
            "due_at": _local(case.due_at),
            "link": link,
        },
        key=f"alert:overdue:{case.case_id}:{case.stage}:{due_day}",
    )


def alert_high_res_result(*, session: Session, case_id: str, link: str) -> Outbox | None:
    """The confirmatory typing of the case's member is in: how it grades against the patient now."""
    case = session.get(DonorCase, case_id)
    assert case is not None
    donor = session.get(Donor, case.donor_id)
    search = session.get(PatientSearch, case.search_id)
    grade = session.exec(
        select(CaseGrade)
        .where(CaseGrade.case_id == case_id, CaseGrade.source == "high_res")
        .order_by(col(CaseGrade.id).desc())
    ).first()
    return enqueue_alert(
        session=session,
        template_key="high_res_result",
        context={
            "case_id": case_id,
            "member_code": donor.code if donor else "?",
            "patient_code": search.patient_code if search else "?",
            "result": result_summary(grade),
            "link": link,
        },
        key=f"alert:high_res:{case_id}",
    )


def alert_spear(
    *, session: Session, case_id: str, label: str, category: str, contacted_on: date, link: str
) -> Outbox | None:
    """A follow-up recorded a serious adverse event or reaction (WMDA S(P)EAR) of the case's donor: the
    coordinators review it and report it to the national registry. Codes, the follow-up, the category and
    the date only: the description (free text) stays in the record and the report. Once per follow-up."""
    case = describe_case(session=session, case_id=case_id)
    return enqueue_alert(
        session=session,
        template_key="alert_spear",
        context={
            "case_id": case.case_id,
            "member_code": case.member_code,
            "label": label,
            "category": category,
            "contacted_on": contacted_on.isoformat(),
            "link": link,
        },
        key=f"alert:spear:{case_id}:{label}",
    )


def result_summary(grade: CaseGrade | None) -> str:
    """ "10/10 allele" (every position an allele match), "10/10 potential" (no mismatch, some positions
    only potentially matched), "9/10" (a mismatch), or "ungraded" (the patient lacks A, B or DRB1)."""
    if grade is None:
        return "ungraded"
    score = f"{grade.matched}/{grade.of}"
    if grade.mismatches:
        return score
    return f"{score} allele" if grade.certainty == "definite" else f"{score} potential"
