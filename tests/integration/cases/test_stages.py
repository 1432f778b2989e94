"""The stage services behind the coordinator forms, without Prefect: rules, idempotency, the audit trail."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from sqlmodel import Session, col, select

from models.cases import (
    CASE_MOVES,
    FOLLOW_UP_SCHEDULE,
    CaseRecord,
    CaseStage,
    ContactAnswer,
    DonationBooked,
    DonationCompleted,
    DonorCase,
    ExamBooked,
    ExamPanel,
    ExamResult,
    FollowUp,
    HighResResult,
    Outcome,
    SampleBooked,
    SampleSent,
    StepKey,
    book_donation,
    book_exam,
    book_sample,
    claim_case,
    enter_stage,
    funnel_counts,
    open_case,
    record_contact,
    record_donation,
    record_exam_result,
    record_high_res_result,
    record_sample,
    release_case,
    release_claim,
    replayed_outcome,
    start_contact_attempt,
    today,
)
from models.core import ConflictError, NotFoundError, StageEvent, ValidationError, transaction
from models.outreach import Outbox
from models.registry import Donor, HlaTyping
from tests.factories import PATIENT_TYPING, add_donor, add_search

TYPING = PATIENT_TYPING
PANEL_OK = ExamPanel(
    blood_count_ok=True,
    abo_rh="O+",
    hbv_negative=True,
    hcv_negative=True,
    hiv_negative=True,
    syphilis_negative=True,
    cmv="negative",
    liver_ok=True,
    renal_ok=True,
    chest_xray_ok=True,
    ecg_ok=True,
    ultrasound_ok=True,
)


def _case(session: Session) -> DonorCase:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):  # the test is the caller: it owns the unit of work
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        enter_stage(session=session, case_id=case.id, stage=CaseStage.REMOBILISING, actor="flow")
    return case


def _send_sample(session: Session, case_id: str) -> None:
    """The confirmatory sample of a case in high-res typing, sent today."""
    record_sample(
        session=session, case_id=case_id, answer=SampleSent(coordinator="a", sample_date=today(), lab="l")
    )


def _willing(**changes: object) -> ContactAnswer:
    return ContactAnswer.model_validate(
        {"coordinator": "李老师", "reached": "yes", "willing": "yes", "health_ok": "yes", **changes}
    )


def test_one_member_from_screening_to_follow_up_with_every_answer_audited(session: Session) -> None:
    case = _case(session)
    day = today() - timedelta(days=40)
    start_contact_attempt(session=session, case_id=case.id, attempt=1)
    assert (
        record_contact(
            session=session, case_id=case.id, attempt=1, answer=_willing(reached="no"), max_attempts=3
        ).result
        == "retry"
    )
    start_contact_attempt(session=session, case_id=case.id, attempt=2)
    assert (
        record_contact(session=session, case_id=case.id, attempt=2, answer=_willing(), max_attempts=3).stage
        == "high_res_typing"
    )
    session.refresh(case)
    appointment = SampleBooked(coordinator="李老师", site="河南省红十字血液中心", appointment_date=today())
    assert book_sample(session=session, case_id=case.id, answer=appointment).result == "recorded"
    sample = SampleSent(coordinator="李老师", sample_date=today(), lab="中华骨髓库 HLA 实验室")
    record_sample(session=session, case_id=case.id, answer=sample)
    result = HighResResult(
        coordinator="李老师", result_date=today(), centre_decision="proceed_to_workup", **TYPING
    )
    assert record_high_res_result(session=session, case_id=case.id, answer=result).stage == "exam"
    book_exam(
        session=session,
        case_id=case.id,
        answer=ExamBooked(coordinator="王", hospital="郑大一附院", exam_date=today()),
    )
    exam = ExamResult(coordinator="王", result="passed", result_date=today(), panel=PANEL_OK)
    assert record_exam_result(session=session, case_id=case.id, answer=exam).stage == "donation"
    booked = DonationBooked(
        coordinator="王",
        product="PBSC",
        hospital="河南省肿瘤医院",
        gcsf_start=today(),
        collection_date=today() + timedelta(days=4),
    )
    book_donation(session=session, case_id=case.id, answer=booked)
    done = DonationCompleted(coordinator="王", completed=True, collected_on=today())
    assert record_donation(session=session, case_id=case.id, answer=done).stage == "follow_up"
    del day

    trail = session.exec(
        select(StageEvent.to_state, StageEvent.actor)
        .where(StageEvent.case_id == case.id)
        .order_by(col(StageEvent.id))
    ).all()
    # One audited event per stage entered, each an allowed move; the order itself is the state machine's
    # (tests/unit/models/cases/test_pipeline.py).
    stages = [CaseStage(state) for state, _ in trail]
    assert (stages[0], stages[-1], len(stages)) == (CaseStage.SCREENED, CaseStage.FOLLOW_UP, 6)
    assert all(after in CASE_MOVES[before] for before, after in pairwise(stages))
    assert trail[2][1] == "coordinator:李老师" and trail[-1][1] == "coordinator:王"
    keys = session.exec(select(CaseRecord.key).where(CaseRecord.case_id == case.id)).all()
    assert sorted(keys) == sorted(
        [
            "contact-1",
            "contact-2",
            "sample-booked",
            "sample",
            "high-res-result",
            "exam-booked",
            "exam-result",
            "donation-booked",
            "donation-completed",
        ]
    )
    follow_ups = session.exec(select(FollowUp).where(FollowUp.case_id == case.id)).all()
    assert len(follow_ups) == len(FOLLOW_UP_SCHEDULE) == 14
    assert min(f.due_on for f in follow_ups) == today() + timedelta(days=2)
    outbox = session.exec(
        select(Outbox.template_key).where(Outbox.kind == "message").order_by(col(Outbox.id))
    ).all()
    assert outbox == [
        "remobilisation_contact",
        "remobilisation_contact",
        "sample_appointment",
        "sample_booking",
        "high_res_result",
        "exam_booking",
        "gcsf_schedule",
        "donation_thanks",
    ]
    events = session.exec(
        select(Outbox.template_key).where(Outbox.kind == "event").order_by(col(Outbox.id))
    ).all()
    assert events == [f"donorflow.case.{stage}" for stage in stages[1:]]  # one per stage entered
    typing = session.exec(select(HlaTyping).where(HlaTyping.resolution == "high")).one()
    assert typing.drb1_2 == "DRB1*15:01" and typing.dqb1_1 is None


def _in_high_res(session: Session) -> DonorCase:
    case = _case(session)
    record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
    return case


def test_a_sample_booking_is_recorded_once_and_a_past_day_is_refused(session: Session) -> None:
    case = _in_high_res(session)
    past = SampleBooked(coordinator="李老师", site="s", appointment_date=today() - timedelta(days=1))
    with pytest.raises(ValidationError, match="is in the past"):
        book_sample(session=session, case_id=case.id, answer=past)
    booked = past.model_copy(update={"appointment_date": today() + timedelta(days=3)})
    first = book_sample(session=session, case_id=case.id, answer=booked)
    again = book_sample(session=session, case_id=case.id, answer=booked)  # a re-run after a suspend
    assert (first.result, first.stage, first.replayed) == ("recorded", "high_res_typing", False)
    assert (again.result, again.replayed) == ("recorded", True)
    record = session.exec(select(CaseRecord).where(CaseRecord.key == "sample-booked")).one()
    assert record.data["appointment_date"] == booked.appointment_date.isoformat()


def test_a_case_whose_sample_is_recorded_is_not_asked_for_a_booking(session: Session) -> None:
    """Cases already waiting for their result when the booking step came: the booking is moot."""
    case = _in_high_res(session)
    _send_sample(session, case.id)
    assert replayed_outcome(session=session, case_id=case.id, step=StepKey.SAMPLE_BOOKED) == Outcome(
        "recorded", "high_res_typing", replayed=True
    )
    late = SampleBooked(coordinator="李老师", site="s", appointment_date=today())
    assert book_sample(session=session, case_id=case.id, answer=late).replayed
    keys = session.exec(select(CaseRecord.key).where(CaseRecord.case_id == case.id)).all()
    assert sorted(keys) == ["contact-1", "sample"]


def test_answer_replayed_after_suspend_records_and_moves_once(session: Session) -> None:
    case = _case(session)
    first = record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
    again = record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
    assert (again.result, again.stage, again.replayed) == (first.result, first.stage, True)
    assert first.stage == "high_res_typing" and not first.replayed
    moves = session.exec(
        select(StageEvent).where(StageEvent.case_id == case.id, StageEvent.to_state == "high_res_typing")
    ).all()
    assert len(moves) == 1
    assert len(session.exec(select(CaseRecord)).all()) == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [({"willing": "no"}, "declined"), ({"health_ok": "no"}, "medical_deferral")],
)
def test_contact_outcome_closes_with_the_right_reason(
    session: Session, answer: dict[str, bool], reason: str
) -> None:
    case = _case(session)
    outcome = record_contact(
        session=session, case_id=case.id, attempt=1, answer=_willing(**answer), max_attempts=3
    )
    session.refresh(case)
    assert (outcome.result, case.status, case.closed_reason) == ("closed", "closed", reason)


def test_unreached_after_the_last_attempt_closes_unreachable(session: Session) -> None:
    case = _case(session)
    for attempt in (1, 2):
        outcome = record_contact(
            session=session, case_id=case.id, attempt=attempt, answer=_willing(reached="no"), max_attempts=2
        )
    assert (outcome.result, outcome.closed_reason) == ("closed", "unreachable")


def test_bad_answers_are_explained_and_leave_the_case_unchanged(session: Session) -> None:
    case = _case(session)
    with pytest.raises(ValidationError, match="available until is before available from"):
        record_contact(
            session=session,
            case_id=case.id,
            attempt=1,
            max_attempts=3,
            answer=_willing(available_from=date(2021, 5, 2), available_to=date(2021, 5, 1)),
        )
    with transaction(session):
        record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
        _send_sample(session, case.id)
    early = HighResResult(
        coordinator="a",
        result_date=today() - timedelta(days=1),
        centre_decision="proceed_to_workup",
        **TYPING,
    )
    with pytest.raises(ValidationError, match="before the sample date"), transaction(session):
        record_high_res_result(session=session, case_id=case.id, answer=early)
    with transaction(session):
        record_high_res_result(
            session=session, case_id=case.id, answer=early.model_copy(update={"result_date": today()})
        )
    with pytest.raises(
        ValidationError, match="体检日期 .* 早于采样日期 .* the exam date is before the sample date"
    ):
        book_exam(
            session=session,
            case_id=case.id,
            answer=ExamBooked(coordinator="a", hospital="h", exam_date=today() - timedelta(days=3)),
        )
    unticked = ExamResult(
        coordinator="a",
        result="passed",
        result_date=today(),
        panel=PANEL_OK.model_copy(update={"hiv_negative": False}),
    )
    with pytest.raises(ValidationError, match="not ticked: hiv_negative"), transaction(session):
        record_exam_result(session=session, case_id=case.id, answer=unticked)
    session.refresh(case)
    assert (case.stage, case.status) == ("exam", "active")
    assert not session.exec(select(CaseRecord).where(CaseRecord.key == "exam-result")).all()


def test_exam_deferral_closes_the_case_and_defers_the_member(session: Session) -> None:
    case = _case(session)
    record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
    _send_sample(session, case.id)
    record_high_res_result(
        session=session,
        case_id=case.id,
        answer=HighResResult(
            coordinator="a", result_date=today(), centre_decision="proceed_to_workup", **TYPING
        ),
    )
    deferred = ExamResult(
        coordinator="a",
        result="deferred",
        result_date=today(),
        panel=PANEL_OK,
        deferred_until=today() + timedelta(days=90),
        reason="low haemoglobin",
    )
    outcome = record_exam_result(session=session, case_id=case.id, answer=deferred)
    assert (outcome.result, outcome.closed_reason) == ("closed", "medical_deferral")
    donor = session.get(Donor, case.donor_id)
    assert (
        donor is not None
        and donor.status == "deferred"
        and donor.status_until == today() + timedelta(days=90)
    )


def test_pbsc_needs_four_to_five_days_of_gcsf(session: Session) -> None:
    case = _case(session)
    case = enter_stage(session=session, case_id=case.id, stage=CaseStage.HIGH_RES_TYPING, actor="t")
    case = enter_stage(session=session, case_id=case.id, stage=CaseStage.EXAM, actor="t")
    case = enter_stage(session=session, case_id=case.id, stage=CaseStage.DONATION, actor="t")
    too_soon = DonationBooked(
        coordinator="a",
        product="PBSC",
        hospital="h",
        gcsf_start=today(),
        collection_date=today() + timedelta(days=1),
    )
    with pytest.raises(ValidationError, match="1 days after G-CSF"):
        book_donation(session=session, case_id=case.id, answer=too_soon)


def test_a_case_has_one_live_stage_run(session: Session) -> None:
    case = _case(session)
    claim_case(session=session, case_id=case.id, flow_run_id="run-a")
    claim_case(session=session, case_id=case.id, flow_run_id="run-a")  # the same run again: fine
    with pytest.raises(ConflictError, match="already has a live stage run"):
        claim_case(session=session, case_id=case.id, flow_run_id="run-b")
    release_case(session=session, case_id=case.id, flow_run_id="run-b")  # not the holder: no effect
    with pytest.raises(ConflictError):
        claim_case(session=session, case_id=case.id, flow_run_id="run-b")
    release_case(session=session, case_id=case.id, flow_run_id="run-a")
    assert claim_case(session=session, case_id=case.id, flow_run_id="run-b").live_run_id == "run-b"


def test_high_res_result_regrades_the_case_and_keeps_the_grade_history(session: Session) -> None:
    from models.cases import CaseGrade, PatientSearchCreate, ensure_search, screen_candidates

    donor = add_donor(session)
    session.add(
        HlaTyping.model_validate(
            {
                "donor_id": donor.id,
                "resolution": "low",
                "a_1": "A*02",
                "a_2": "A*24",
                "b_1": "B*40",
                "b_2": "B*46",
                "drb1_1": "DRB1*09",
                "drb1_2": "DRB1*15",
            }
        )
    )
    session.commit()
    patient = " ".join(v for k, v in TYPING.items() if not k.startswith("c_"))
    search = ensure_search(
        session=session, data=PatientSearchCreate(patient_code="P-9", centre="c"), hla_text=patient
    )
    report = screen_candidates(session=session, search_id=search.id, codes=[donor.code], actor="a")
    case_id = report.opened[0]["case_id"]
    for stage in (CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING):
        enter_stage(session=session, case_id=case_id, stage=stage, actor="t")
    _send_sample(session, case_id)
    mismatched = {**TYPING, "a_1": "A*02:06"}
    record_high_res_result(
        session=session,
        case_id=case_id,
        answer=HighResResult(
            coordinator="a", result_date=today(), centre_decision="proceed_to_workup", **mismatched
        ),
    )
    grades = session.exec(
        select(CaseGrade).where(CaseGrade.case_id == case_id).order_by(col(CaseGrade.id))
    ).all()
    assert [(g.source, g.matched, g.of, g.certainty) for g in grades] == [
        ("screening", 6, 6, "potential"),
        ("high_res", 5, 6, "potential"),
    ]
    assert grades[1].loci["A"] == ["antigen", "allele"]


def test_follow_ups_of_a_leap_day_donation_are_calendar_anniversaries(session: Session) -> None:
    case = _case(session)
    for stage in (CaseStage.HIGH_RES_TYPING, CaseStage.EXAM, CaseStage.DONATION):
        case = enter_stage(session=session, case_id=case.id, stage=stage, actor="arrange")
    done = DonationCompleted(coordinator="王", completed=True, collected_on=date(2020, 2, 29))
    record_donation(session=session, case_id=case.id, answer=done)
    follow_ups = session.exec(select(FollowUp).where(FollowUp.case_id == case.id)).all()
    due = {f.label: f.due_on for f in follow_ups}
    assert (due["month-1"], due["year-1"], due["year-2"], due["year-10"]) == (
        date(2020, 3, 29),
        date(2021, 2, 28),
        date(2022, 2, 28),
        date(2030, 2, 28),
    )


def test_a_typo_in_the_high_res_result_is_a_validation_error_naming_the_field_and_changes_nothing(
    session: Session,
) -> None:
    import hla

    case = _case(session)
    with transaction(session):
        record_contact(session=session, case_id=case.id, attempt=1, answer=_willing(), max_attempts=3)
        _send_sample(session, case.id)
    typo = HighResResult(
        coordinator="a",
        result_date=today(),
        centre_decision="proceed_to_workup",
        **{**TYPING, "a_2": "A*02:0x"},
    )
    with pytest.raises(ValidationError, match=r'A \(2\): "A\*02:0x"') as raised, transaction(session):
        record_high_res_result(session=session, case_id=case.id, answer=typo)
    assert isinstance(raised.value.__cause__, hla.TypingError)
    session.refresh(case)
    assert (case.stage, case.status) == ("high_res_typing", "active")
    assert not session.exec(select(CaseRecord).where(CaseRecord.key == "high-res-result")).all()
    assert not session.exec(select(HlaTyping).where(HlaTyping.resolution == "high")).all()
    fixed = typo.model_copy(update={"a_2": "A*02:01"})
    assert record_high_res_result(session=session, case_id=case.id, answer=fixed).stage == "exam"


def _claimed(session: Session, run_id: str = "run-1") -> DonorCase:
    case = _case(session)
    return claim_case(session=session, case_id=case.id, flow_run_id=run_id)


def _claim_events(session: Session) -> list[tuple[str, str | None, str, str | None, str | None]]:
    rows = session.exec(
        select(StageEvent).where(StageEvent.entity == "claim").order_by(col(StageEvent.id))
    ).all()
    return [(e.to_state, e.from_state, e.actor, e.reason, e.flow_run_id) for e in rows]


def test_a_claim_held_by_a_run_waiting_for_an_answer_says_which_run_and_stage_not_to_release_it(
    session: Session,
) -> None:
    case = _claimed(session, "old-run")
    with pytest.raises(ConflictError) as refused:
        claim_case(
            session=session,
            case_id=case.id,
            flow_run_id="new-run",
            holder_gone=lambda _: None,
            holder_waiting=lambda run: f"remobilise-case-x ({run})" if run == "old-run" else None,
        )
    message = str(refused.value)
    assert "remobilise-case-x (old-run)" in message and "remobilising" in message
    assert "waits for an answer" in message and "cases release" not in message


def test_a_stale_claim_is_taken_over_with_an_audit_event_naming_the_run_that_held_it(
    session: Session,
) -> None:
    case = _claimed(session, "old-run")
    with pytest.raises(ConflictError, match=r"live stage run \(old-run\).*donorflow cases release"):
        claim_case(session=session, case_id=case.id, flow_run_id="new-run", holder_gone=lambda _: None)
    taken = claim_case(
        session=session,
        case_id=case.id,
        flow_run_id="new-run",
        holder_gone=lambda run: "Cancelled" if run == "old-run" else None,
        actor="flow:remobilise",
    )
    assert taken.live_run_id == "new-run"
    assert _claim_events(session) == [
        (
            "taken_over",
            "remobilising",
            "flow:remobilise",
            "run old-run is no longer running (Cancelled)",
            "old-run",
        )
    ]
    counts = funnel_counts(session=session, start=today() - timedelta(days=1), end=today())
    assert counts.remobilisations == 1  # claim events are not stage entries


def test_a_coordinator_releases_a_stuck_case_with_a_reason_audited(session: Session) -> None:
    case = _claimed(session, "stuck-run")
    held = release_claim(
        session=session,
        case_id=case.id,
        actor="cli:王",
        reason="server killed, 电话 13812345678",
    )
    session.refresh(case)
    assert (held, case.live_run_id) == ("stuck-run", None)
    assert _claim_events(session) == [
        ("released", "remobilising", "cli:王", "server killed, 电话 138****5678", "stuck-run")
    ]
    assert claim_case(session=session, case_id=case.id, flow_run_id="next-run").live_run_id == "next-run"


def test_releasing_needs_a_known_case_a_claim_and_a_reason(session: Session) -> None:
    case = _case(session)
    with pytest.raises(NotFoundError):
        release_claim(session=session, case_id="no-such-case", actor="a", reason="r")
    with pytest.raises(ValidationError, match="not claimed"):
        release_claim(session=session, case_id=case.id, actor="a", reason="r")
    claim_case(session=session, case_id=case.id, flow_run_id="run-1")
    with pytest.raises(ValidationError, match="reason is required"):
        release_claim(session=session, case_id=case.id, actor="a", reason="  ")
    assert _claim_events(session) == []


def test_a_run_that_ends_badly_releases_its_claim_audited_and_only_its_own(session: Session) -> None:
    case = _claimed(session, "run-1")
    assert not release_case(session=session, case_id=case.id, flow_run_id="run-2", reason="run Crashed")
    assert release_case(
        session=session, case_id=case.id, flow_run_id="run-1", actor="flow:remobilise", reason="run Cancelled"
    )
    session.refresh(case)
    assert case.live_run_id is None
    assert _claim_events(session) == [
        ("released", "remobilising", "flow:remobilise", "run Cancelled", "run-1")
    ]


@pytest.mark.parametrize(
    ("tables", "graded_at_a"), [(True, ["allele", "allele"]), (False, ["antigen", "allele"])]
)
def test_case_grades_read_typings_with_the_tables_the_search_uses(
    session: Session, monkeypatch: pytest.MonkeyPatch, tables: bool, graded_at_a: list[str]
) -> None:
    """Issue 13: the search grades with the shipped IPD-IMGT/HLA tables by default; the case's grade
    must too (models.matching.hla_tables, set by donorflow.bootstrap). A*02:09 shares the 02:01P group
    with the patient's A*02:01: an allele match with the tables, an antigen match without."""
    import models.matching.index as matching
    from hla import SHIPPED_DIR, load_reference
    from models.cases import CaseGrade, PatientSearchCreate, ensure_search, screen_candidates

    shipped = load_reference(SHIPPED_DIR) if tables else None
    monkeypatch.setattr(matching, "_reference_provider", lambda: shipped)
    donor = add_donor(session)
    session.add(
        HlaTyping.model_validate({"donor_id": donor.id, "resolution": "high", **TYPING, "a_1": "A*02:09"})
    )
    session.commit()
    search = ensure_search(
        session=session,
        data=PatientSearchCreate(patient_code="P-10", centre="c"),
        hla_text=" ".join(TYPING.values()),
    )
    report = screen_candidates(session=session, search_id=search.id, codes=[donor.code], actor="a")
    grade = session.exec(select(CaseGrade).where(CaseGrade.case_id == report.opened[0]["case_id"])).one()
    assert grade.loci["A"] == graded_at_a
