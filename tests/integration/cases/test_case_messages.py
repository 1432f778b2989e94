"""Who is told what as a case moves: the member's messages and the coordinators' alerts, each one outbox
row in the step's transaction, keyed once, with the catalogue's context and no personal data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from models.cases import (
    CaseRecord,
    CaseStage,
    ContactAnswer,
    DonationBooked,
    DonorCase,
    ExamBooked,
    HighResResult,
    OverdueCase,
    SampleBooked,
    SampleSent,
    alert_case_overdue,
    alert_form_waiting,
    book_donation,
    book_exam,
    book_sample,
    enter_stage,
    form_answered,
    list_overdue,
    messages,
    open_case,
    record_contact,
    record_high_res_result,
    record_sample,
    start_contact_attempt,
    today,
)
from models.cases import stages as stage_services
from models.cases.tables import PatientSearch
from models.core import ConflictError, transaction
from models.outreach import COORDINATORS, Outbox
from models.registry import Donor, HlaTyping
from tests.factories import PATIENT_TYPING, add_case, add_donor

LINK = "http://127.0.0.1:4200/runs/flow-run/0b6e7a52-0000-4000-8000-000000000001"


def _case(session: Session, stage: CaseStage, urgency: str = "routine") -> DonorCase:
    """A case at `stage`, for a patient typed like PATIENT_TYPING (so a high-res result grades)."""
    donor = add_donor(session, name="欧阳娜娜")
    assert donor.id is not None
    with transaction(session):
        search = PatientSearch(patient_code=f"P-{donor.id}", centre="河南省肿瘤医院", urgency=urgency)
        session.add(search)
        session.flush()
        session.add(
            HlaTyping.model_validate({"search_id": search.id, "resolution": "high", **PATIENT_TYPING})
        )
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        order = [CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING, CaseStage.EXAM, CaseStage.DONATION]
        for step in order[: order.index(stage) + 1]:
            case = enter_stage(session=session, case_id=case.id, stage=step, actor="arrange")
    return case


def _rows(session: Session) -> list[Outbox]:
    session.expire_all()
    return list(session.exec(select(Outbox).where(Outbox.kind == "message").order_by(col(Outbox.id))))


def _assert_no_personal_data(session: Session, row: Outbox) -> None:
    donor = session.exec(select(Donor).where(Donor.name == "欧阳娜娜")).first()
    assert donor is not None
    shown = json.dumps(row.context, ensure_ascii=False)
    for secret in (donor.name, donor.phone, donor.national_id_hash, donor.national_id_masked):
        assert secret and secret not in shown
    assert row.address_snapshot is None


def _willing(**changes: Any) -> ContactAnswer:
    answer = {"coordinator": "李老师", "reached": "yes", "willing": "yes", "health_ok": "yes", **changes}
    return ContactAnswer.model_validate(answer)


@pytest.mark.parametrize(("urgency", "urgent"), [("urgent", True), ("routine", False)])
def test_the_remobilisation_message_is_urgent_only_for_an_urgent_search(
    session: Session, urgency: str, urgent: bool
) -> None:
    case = _case(session, CaseStage.REMOBILISING, urgency)
    with transaction(session):
        start_contact_attempt(session=session, case_id=case.id, attempt=2)
        start_contact_attempt(session=session, case_id=case.id, attempt=2)  # a re-run: same key
    (row,) = _rows(session)
    code = session.exec(select(Donor.code).where(Donor.id == case.donor_id)).one()
    assert (row.template_key, row.idempotency_key, row.urgent, row.channel) == (
        "remobilisation_contact",
        f"case:{case.id}:contact:2",
        urgent,
        None,
    )
    assert row.context == {"code": code, "attempt": 2} and row.recipient_ref == f"donor:{case.donor_id}"
    _assert_no_personal_data(session, row)


def test_consent_tells_the_member_a_coordinator_will_arrange_the_sample(session: Session) -> None:
    case = _case(session, CaseStage.REMOBILISING)
    with transaction(session):
        record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
    (row,) = _rows(session)
    assert (row.template_key, row.idempotency_key, row.urgent) == (
        "sample_appointment",
        f"case:{case.id}:sample_appointment",
        False,
    )
    assert set(row.context) == {"code"}
    _assert_no_personal_data(session, row)


@pytest.mark.parametrize("answer", [{"reached": "no"}, {"willing": "no"}, {"health_ok": "no"}])
def test_no_sample_appointment_without_consent(session: Session, answer: dict[str, str]) -> None:
    case = _case(session, CaseStage.REMOBILISING)
    with transaction(session):
        record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(**answer), max_attempts=3)
    assert _rows(session) == []


def test_a_consent_whose_move_conflicts_leaves_no_message(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case(session, CaseStage.REMOBILISING)

    def conflict(**_kwargs: Any) -> DonorCase:
        raise ConflictError("case changed by someone else")

    with monkeypatch.context() as patched:
        patched.setattr(stage_services, "advance_case", conflict)
        with pytest.raises(ConflictError), transaction(session):
            record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
    assert _rows(session) == []
    # Queued, then the unit of work fails after the step (a later write of the caller): rolled back too.
    with pytest.raises(ConflictError), transaction(session):
        record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
        session.flush()
        assert [r.template_key for r in session.exec(select(Outbox).where(Outbox.kind == "message"))] == [
            "sample_appointment"
        ]
        raise ConflictError("the caller's next write lost a race")
    assert _rows(session) == []


def test_the_sample_booking_tells_site_and_date_and_a_new_date_is_a_new_message(session: Session) -> None:
    case = _case(session, CaseStage.HIGH_RES_TYPING)
    booked = SampleBooked(
        coordinator="李老师", site="河南省红十字血液中心", appointment_date=today() + timedelta(days=2)
    )
    with transaction(session):
        book_sample(session=session, case_id=case.id, answer=booked)
    (row,) = _rows(session)
    day = booked.appointment_date.isoformat()
    assert (row.template_key, row.idempotency_key) == (
        "sample_booking",
        f"case:{case.id}:sample_booking:{day}",
    )
    assert row.context == {
        "code": row.context["code"],
        "site": "河南省红十字血液中心",
        "appointment_date": day,
    }
    _assert_no_personal_data(session, row)
    with transaction(session):  # the same booking told again adds nothing; a moved one is told anew
        messages.sample_booking(session=session, case=case, booking=booked)
        moved = booked.model_copy(update={"appointment_date": booked.appointment_date + timedelta(days=1)})
        messages.sample_booking(session=session, case=case, booking=moved)
    assert [r.context["appointment_date"] for r in _rows(session)] == [
        day,
        moved.appointment_date.isoformat(),
    ]


def test_the_exam_booking_tells_hospital_and_date_and_a_new_date_is_a_new_message(session: Session) -> None:
    case = _case(session, CaseStage.EXAM)
    _sample(session, case)
    booked = ExamBooked(coordinator="王", hospital="郑大一附院", exam_date=today() + timedelta(days=3))
    with transaction(session):
        book_exam(session=session, case_id=case.id, answer=booked)
    (row,) = _rows(session)
    day = booked.exam_date.isoformat()
    assert (row.template_key, row.idempotency_key) == ("exam_booking", f"case:{case.id}:exam_booking:{day}")
    assert row.context == {"code": row.context["code"], "hospital": "郑大一附院", "exam_date": day}
    _assert_no_personal_data(session, row)
    with transaction(session):  # the same booking told again adds nothing; a moved one is told anew
        messages.exam_booking(session=session, case=case, booking=booked)
        moved = booked.model_copy(update={"exam_date": booked.exam_date + timedelta(days=1)})
        messages.exam_booking(session=session, case=case, booking=moved)
    assert [r.context["exam_date"] for r in _rows(session)] == [day, moved.exam_date.isoformat()]


def test_the_donation_booking_tells_the_gcsf_and_collection_days(session: Session) -> None:
    case = _case(session, CaseStage.DONATION)
    start = today() + timedelta(days=7)
    booked = DonationBooked(
        coordinator="王",
        product="PBSC",
        hospital="河南省肿瘤医院",
        gcsf_start=start,
        collection_date=start + timedelta(days=4),
    )
    with transaction(session):
        book_donation(session=session, case_id=case.id, answer=booked)
    (row,) = _rows(session)
    dates = (start.isoformat(), (start + timedelta(days=4)).isoformat())
    assert (row.template_key, row.idempotency_key) == (
        "gcsf_schedule",
        f"case:{case.id}:gcsf_schedule:{dates[0]}:{dates[1]}",
    )
    assert {k: v for k, v in row.context.items() if k != "code"} == {
        "hospital": "河南省肿瘤医院",
        "gcsf_start": dates[0],
        "collection_date": dates[1],
    }
    _assert_no_personal_data(session, row)


def _sample(session: Session, case: DonorCase) -> None:
    """A sample recorded at high-res typing (the exam rules compare dates with it)."""
    with transaction(session):
        session.add(
            CaseRecord(
                case_id=case.id,
                stage="high_res_typing",
                key="sample",
                actor="a",
                data={"sample_date": today().isoformat(), "lab": "l", "volume_ml": 10},
            )
        )


def test_a_high_res_result_alerts_the_coordinators_with_the_new_grade(session: Session) -> None:
    case = _case(session, CaseStage.HIGH_RES_TYPING)
    with transaction(session):
        record_sample(
            session=session, case_id=case.id, answer=SampleSent(coordinator="a", sample_date=today(), lab="l")
        )
    result = HighResResult(
        coordinator="李老师", result_date=today(), centre_decision="proceed_to_workup", **PATIENT_TYPING
    )
    with transaction(session):
        record_high_res_result(session=session, case_id=case.id, answer=result, link=LINK)
        record_high_res_result(session=session, case_id=case.id, answer=result, link=LINK)  # replayed
    (row,) = _rows(session)
    search = session.get(PatientSearch, case.search_id)
    code = session.exec(select(Donor.code).where(Donor.id == case.donor_id)).one()
    assert search is not None
    assert (row.recipient_ref, row.template_key, row.urgent, row.idempotency_key) == (
        COORDINATORS,
        "high_res_result",
        True,
        f"alert:high_res:{case.id}",
    )
    assert row.context == {
        "case_id": case.id,
        "member_code": code,
        "patient_code": search.patient_code,
        "result": "8/8 allele",  # the patient is typed at A, B, C and DRB1: 8 positions, all alleles
        "link": LINK,
    }
    _assert_no_personal_data(session, row)


def test_a_waiting_form_alerts_once_per_run_and_form_key(session: Session) -> None:
    case = _case(session, CaseStage.REMOBILISING)
    since = datetime(2026, 3, 2, 1, 0, 5, 123, tzinfo=UTC)
    ask: dict[str, Any] = {"session": session, "case_id": case.id, "run_id": "run-1", "link": LINK}
    with transaction(session):
        alert_form_waiting(**ask, form_key="contact-1-1", form="联系上了吗？", since=since)
        alert_form_waiting(**ask, form_key="contact-1-1", form="联系上了吗？")  # the resumed run re-asks
        alert_form_waiting(**ask, form_key="contact-1-2", form="联系上了吗？")  # asked again, with a reason
    first, second = _rows(session)
    assert [r.idempotency_key for r in (first, second)] == [
        "alert:form:run-1:contact-1-1",
        "alert:form:run-1:contact-1-2",
    ]
    code = session.exec(select(Donor.code).where(Donor.id == case.donor_id)).one()
    assert first.context == {
        "case_id": case.id,
        "member_code": code,
        "stage": "remobilising",
        "form": "联系上了吗？",
        "since": "2026-03-02T09:00:05+08:00",  # Shanghai time, to the second
        "link": LINK,
    }
    assert (first.recipient_ref, first.template_key, first.urgent) == (
        COORDINATORS,
        "alert_form_waiting",
        True,
    )
    _assert_no_personal_data(session, first)


def test_an_answered_form_withdraws_its_unsent_alert_and_leaves_sent_ones(session: Session) -> None:
    case = _case(session, CaseStage.REMOBILISING)
    ask: dict[str, Any] = {"session": session, "case_id": case.id, "link": LINK, "form": "联系上了吗？"}
    with transaction(session):
        alert_form_waiting(**ask, run_id="run-1", form_key="contact-1-1")
        alert_form_waiting(**ask, run_id="run-1", form_key="contact-1-10")  # another form: not a prefix
        alert_form_waiting(**ask, run_id="run-2", form_key="contact-1-1")
    first, other_form, sent = _rows(session)
    with transaction(session):  # run-2's alert went out already; run-1's was fanned out to two targets
        sent.status = "sent"
        for target in ("email-1", "group-bot"):
            session.add(
                Outbox(
                    recipient_ref=f"{COORDINATORS}:{target}",
                    template_key="alert_form_waiting",
                    context=first.context,
                    idempotency_key=f"{first.idempotency_key}:{target}",
                )
            )
    with transaction(session):
        assert form_answered(session=session, run_id="run-1", form_key="contact-1-1") == 3
        assert form_answered(session=session, run_id="run-2", form_key="contact-1-1") == 0
    status = {row.idempotency_key: row.status for row in _rows(session)}
    assert status == {
        "alert:form:run-1:contact-1-1": "skipped",
        "alert:form:run-1:contact-1-10": "pending",
        "alert:form:run-2:contact-1-1": "sent",
        "alert:form:run-1:contact-1-1:email-1": "skipped",
        "alert:form:run-1:contact-1-1:group-bot": "skipped",
    }
    assert other_form.status == "pending"


def test_an_overdue_case_is_alerted_once_per_stage_and_deadline(session: Session) -> None:
    now = datetime(2021, 6, 1, 4, 0, tzinfo=UTC)
    case = add_case(session, stage=CaseStage.EXAM, due_at=datetime(2021, 5, 31, 16, 30, tzinfo=UTC))
    for _ in range(2):  # the daily report, run twice
        with transaction(session):
            (overdue,) = list_overdue(session=session, now=now)
            alert_case_overdue(session=session, case=overdue, link=LINK)
    (row,) = _rows(session)
    assert row.idempotency_key == f"alert:overdue:{case.id}:exam:2021-06-01"  # the Shanghai day it was due
    assert row.context == {
        "case_id": case.id,
        "member_code": overdue.member_code,
        "stage": "exam",
        "due_at": "2021-06-01T00:30:00+08:00",
        "link": LINK,
    }
    later = OverdueCase(case.id, overdue.member_code, "exam", overdue.due_at + timedelta(days=3), None)
    with transaction(session):  # a new deadline passed as well: alerted again
        alert_case_overdue(session=session, case=later, link=LINK)
    assert len(_rows(session)) == 2
