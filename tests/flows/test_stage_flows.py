"""Stage flows in a real Prefect server, run ad hoc (they pause in-process), answered as a coordinator."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import State
from prefect.states import Cancelled, Suspended
from sqlalchemy import update
from sqlmodel import Session, col, select

from flows import runtime
from flows.exam import pre_donation_exam
from flows.high_res import high_res_typing
from flows.remobilise import remobilise
from models.cases import CaseRecord, CaseStage, DonorCase, enter_stage, open_case, today
from models.core import StageEvent, mask_text, transaction
from models.outreach import Outbox
from models.registry import HlaTyping
from tests.coordinator import Coordinator
from tests.factories import PATIENT_TYPING, add_donor, add_search

TODAY = today().isoformat()
PATIENT_COLUMNS = PATIENT_TYPING


def _case(session: Session, stage: CaseStage = CaseStage.SCREENED) -> DonorCase:
    donor, search = add_donor(session), add_search(session)
    assert donor.id is not None
    with transaction(session):  # arranged as a caller would: one committed unit of work
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        order = [CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING, CaseStage.EXAM]
        for step in order[: order.index(stage) + 1] if stage in order else []:
            case = enter_stage(session=session, case_id=case.id, stage=step, actor="arrange")
    return case


def _logs(run_id: object, level: int = 0) -> str:
    """The run's log lines at `level` or above (they reach the server in batches: wait for the first)."""
    deadline = time.monotonic() + 10
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
            if logs or time.monotonic() > deadline:
                return "\n".join(log.message for log in logs if log.level >= level)
            time.sleep(0.2)


def test_remobilise_retries_unreached_then_consent_moves_the_case_on(wired: Session) -> None:
    case = _case(wired)
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(remobilise, case.id)
        run = coordinator.run_named(f"remobilise-case-{case.id}")
        _key, description = coordinator.answer(run.id, {"coordinator": "李老师", "reached": "no"})
        assert "Contact attempt 1 of 2" in description and "TT21-" in description
        _key, description = coordinator.answer(
            run.id, {"coordinator": "李老师", "reached": "yes", "willing": "yes", "health_ok": "yes"}
        )
        assert "Contact attempt 2 of 2" in description
        assert running.result(timeout=60) == "advanced"
    wired.expire_all()
    refreshed = wired.get(DonorCase, case.id)
    assert refreshed is not None
    assert (refreshed.stage, refreshed.live_run_id) == ("high_res_typing", None)
    trail = wired.exec(
        select(StageEvent.to_state, StageEvent.actor, StageEvent.flow_run_id)
        .where(StageEvent.case_id == case.id)
        .order_by(col(StageEvent.id))
    ).all()
    assert [t[0] for t in trail] == ["screened", "remobilising", "high_res_typing"]
    assert trail[-1][1] == "coordinator:李老师" and trail[-1][2] == str(run.id)


def test_bad_answer_is_explained_in_the_log_and_asked_again(wired: Session) -> None:
    case = _case(wired)
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(remobilise, case.id)
        run = coordinator.run_named(f"remobilise-case-{case.id}")
        backwards = {
            "coordinator": "王",
            "reached": "yes",
            "willing": "yes",
            "health_ok": "yes",
            "available_from": TODAY,
            "available_to": (today() - timedelta(days=1)).isoformat(),
        }
        coordinator.answer(run.id, backwards)
        _key, description = coordinator.answer(run.id, {**backwards, "available_to": TODAY})
        assert "Not accepted: 可捐献截止日早于起始日 available until is before available from" in description
        assert running.result(timeout=60) == "advanced"
    assert "not accepted: 可捐献截止日早于起始日 available until is before available from" in _logs(run.id)
    records = wired.exec(select(CaseRecord).where(CaseRecord.case_id == case.id)).all()
    assert len(records) == 1 and records[0].data["available_to"] == TODAY


def test_exam_date_before_the_sample_date_leaves_the_case_unchanged(wired: Session) -> None:
    case = _case(wired, CaseStage.EXAM)
    _with_sample(wired, case)
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(pre_donation_exam, case.id)
        run = coordinator.run_named(f"pre-donation-exam-case-{case.id}")
        early = (today() - timedelta(days=5)).isoformat()
        coordinator.answer(run.id, {"coordinator": "王", "hospital": "郑大一附院", "exam_date": early})
        wired.expire_all()
        assert wired.exec(select(CaseRecord).where(CaseRecord.key == "exam-booked")).first() is None
        coordinator.answer(run.id, {"coordinator": "王", "hospital": "郑大一附院", "exam_date": TODAY})
        coordinator.answer(
            run.id,
            {
                "coordinator": "王",
                "result": "failed",
                "result_date": TODAY,
                "reason": "abnormal ECG",
                "panel": {"abo_rh": "O+", "cmv": "negative"},
            },
        )
        assert running.result(timeout=60) == "closed"
    assert f"体检日期 {early} 早于采样日期 {TODAY} the exam date is before the sample date" in _logs(run.id)
    wired.expire_all()
    closed = wired.get(DonorCase, case.id)
    assert closed is not None and (closed.status, closed.closed_reason) == ("closed", "medical_deferral")


def test_unknown_case_fails_with_a_clear_log_line_and_changes_nothing(wired: Session) -> None:
    state = remobilise("no-such-case", return_state=True)
    assert state.is_failed()
    assert "case no-such-case does not exist" in str(state.message) + _logs(state.state_details.flow_run_id)
    assert wired.exec(select(StageEvent)).all() == []


def test_a_second_run_on_a_live_case_is_refused(wired: Session) -> None:
    case = _case(wired)
    held = wired.get(DonorCase, case.id)
    assert held is not None
    held.live_run_id = "another-run"
    wired.add(held)
    wired.commit()
    state = remobilise(case.id, return_state=True)
    assert state.is_failed() and "already has a live stage run" in _logs(state.state_details.flow_run_id)


def test_a_stage_run_again_asks_nothing_already_answered(wired: Session) -> None:
    """A duplicate trigger or a manual re-run finds the answers in the database and only reports them."""
    case = _case(wired, CaseStage.EXAM)
    for key, data in (("exam-booked", {"exam_date": TODAY}), ("exam-result", {"result_date": TODAY})):
        wired.add(CaseRecord(case_id=case.id, stage="exam", key=key, actor="a", data=data))
    wired.commit()
    with transaction(wired):
        case = enter_stage(session=wired, case_id=case.id, stage=CaseStage.DONATION, actor="arrange")
    state = pre_donation_exam(case.id, return_state=True)
    assert state.is_completed() and state.result() == "advanced"
    assert "answered before (now donation); nothing new to do" in _logs(state.state_details.flow_run_id)
    wired.expire_all()
    assert len(wired.exec(select(StageEvent).where(StageEvent.to_state == "donation")).all()) == 1


def test_screening_without_candidates_searches_the_registry_and_grades_each_case(
    wired: Session, tmp_path: Path
) -> None:
    from flows.screening import PatientSearchForm, initial_screening
    from models.cases import CaseGrade
    from models.matching import IndexFile, IndexStore

    store = IndexStore(IndexFile(tmp_path / "index.npz"))
    runtime.configure(replace(runtime.config(), hla_index=store.open))
    typed = [add_donor(wired), add_donor(wired), add_donor(wired)]
    far = {
        "a_1": "A*11:01",
        "a_2": "A*33:03",
        "b_1": "B*58:01",
        "b_2": "B*13:02",
        "c_1": "C*03:02",
        "c_2": "C*07:02",
        "drb1_1": "DRB1*03:01",
        "drb1_2": "DRB1*12:02",
    }
    close = {**PATIENT_COLUMNS, "a_1": "A*02:06"}  # one allele-level (antigen) mismatch at A
    for donor, columns in zip(typed, (PATIENT_COLUMNS, close, far), strict=True):
        wired.add(HlaTyping.model_validate({"donor_id": donor.id, "resolution": "high", **columns}))
    wired.commit()
    search = PatientSearchForm(
        patient_code="P21-0042", centre="河南省肿瘤医院", hla=" ".join(PATIENT_COLUMNS.values())
    )
    result = initial_screening(search, "李老师", top_k=5, max_mismatches=1)
    assert result == {"opened": 2, "already_open": 0, "refused": 0}
    grades = wired.exec(select(CaseGrade).order_by(col(CaseGrade.mismatches))).all()
    assert [(g.source, g.matched, g.of, g.certainty) for g in grades] == [
        ("screening", 8, 8, "definite"),
        ("screening", 7, 8, "potential"),
    ]
    opened = {c.donor_id for c in wired.exec(select(DonorCase)).all()}
    assert opened == {typed[0].id, typed[1].id}


def test_screening_opens_cases_in_match_likelihood_order_most_likely_full_match_first(
    wired: Session, tmp_path: Path
) -> None:
    """Issue 13 item 8: two low-resolution members rank alike (same age: the older record first); the one
    more likely to be a full 8/8 match is re-mobilised first — its case is opened, and listed, first."""
    from flows.screening import PatientSearchForm, initial_screening
    from hla.likelihood import HaplotypeSet
    from models.matching import IndexFile, IndexStore

    haplotypes = HaplotypeSet.from_records(
        [
            ({"A": "02:01", "B": "40:01", "C": "03:04", "DRB1": "09:01"}, 0.10),
            ({"A": "02:06", "B": "40:01", "C": "03:04", "DRB1": "09:01"}, 0.30),
            ({"A": "24:02", "B": "46:01", "C": "01:02", "DRB1": "15:01"}, 0.30),
            ({"A": "24:03", "B": "46:01", "C": "01:02", "DRB1": "15:01"}, 0.02),
        ],
        source="test-set",
    )
    store = IndexStore(IndexFile(tmp_path / "index.npz"))
    runtime.configure(replace(runtime.config(), hla_index=store.open, hla_haplotypes=lambda: haplotypes))
    unlikely, likely = (
        add_donor(wired),
        add_donor(wired),
    )  # A*02: 02:01 one time in four; A*24: 24:02 15 in 16
    for donor, columns in ((unlikely, {"a_1": "A*02"}), (likely, {"a_2": "A*24"})):
        typing = {**PATIENT_COLUMNS, **columns}
        wired.add(HlaTyping.model_validate({"donor_id": donor.id, "resolution": "low", **typing}))
    wired.commit()
    search = PatientSearchForm(
        patient_code="P21-0043", centre="河南省肿瘤医院", hla=" ".join(PATIENT_COLUMNS.values())
    )
    assert initial_screening(search, "李老师", top_k=5, max_mismatches=0)["opened"] == 2
    cases = wired.exec(select(DonorCase).order_by(col(DonorCase.stage_entered_at), col(DonorCase.id))).all()
    assert [c.donor_id for c in cases] == [likely.id, unlikely.id]


def test_screening_with_dpb1_apart_ranks_permissive_first_and_tables_permissiveness(
    wired: Session, tmp_path: Path
) -> None:
    """Issue 13 item 6 in the flow: a 10/10-style search with DPB1 graded but not counted; the member
    with a non-permissive DPB1 mismatch is the younger (ranked first on age alone) yet is called second;
    the ranked artifact names each member's DPB1 permissiveness, and no personal data."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.screening import PatientSearchForm, initial_screening
    from hla import SHIPPED_DIR, load_reference
    from models.matching import IndexFile, IndexStore

    # The shipped tables, as bootstrap gives the served flows: they hold the DPB1 TCE groups.
    store = IndexStore(IndexFile(tmp_path / "index.npz"), load_reference(SHIPPED_DIR))
    runtime.configure(replace(runtime.config(), hla_index=store.open))
    older, younger = add_donor(wired), add_donor(wired)
    assert younger.birth_date is not None
    older.birth_date = younger.birth_date.replace(year=younger.birth_date.year - 5)
    # DPB1 TCE groups (IPD-IMGT/HLA 3.58.0): 04:01/04:02/02:01 group 3, 09:01 group 1.
    for donor, dpb1 in ((older, "DPB1*04:02"), (younger, "DPB1*09:01")):
        columns = {**PATIENT_COLUMNS, "dpb1_1": "DPB1*04:01", "dpb1_2": dpb1}
        wired.add(HlaTyping.model_validate({"donor_id": donor.id, "resolution": "high", **columns}))
    wired.commit()
    code = f"P21-{uuid4().hex[:6]}"
    hla_text = " ".join([*PATIENT_COLUMNS.values(), "DPB1*04:01", "DPB1*02:01"])
    search = PatientSearchForm(patient_code=code, centre="河南省肿瘤医院", hla=hla_text)
    loci: list[Any] = ["A", "B", "C", "DRB1", "DPB1"]
    state = initial_screening(search, "李老师", loci=loci, dpb1_apart=True, return_state=True)
    assert state.result() == {"opened": 2, "already_open": 0, "refused": 0}
    cases = wired.exec(select(DonorCase).order_by(col(DonorCase.stage_entered_at), col(DonorCase.id))).all()
    assert [c.donor_id for c in cases] == [older.id, younger.id]
    key = f"screening-{code.lower()}-ranked"
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert isinstance(artifact.data, str)  # a table artifact's rows, as JSON
    rows = json.loads(artifact.data)
    assert [(r["match"], r["dpb1_tce"], r["dpb1_counted"]) for r in rows] == [
        ("8/8", "permissive", False),
        ("8/8", "non_permissive_hvg", False),
    ]
    assert "王小明" not in json.dumps(rows, ensure_ascii=False)


def _with_sample(session: Session, case: DonorCase) -> None:
    session.add(
        CaseRecord(
            case_id=case.id,
            stage="high_res_typing",
            key="sample",
            actor="a",
            data={"sample_date": TODAY, "lab": "l", "volume_ml": 10},
        )
    )
    session.commit()


def test_high_res_books_the_sample_then_records_it_and_the_result_and_moves_to_exam(wired: Session) -> None:
    """The three forms in order; a booking for a day gone by is asked again with the reason."""
    case = _case(wired, CaseStage.HIGH_RES_TYPING)
    yesterday = (today() - timedelta(days=1)).isoformat()
    tomorrow = (today() + timedelta(days=1)).isoformat()
    booking = {"coordinator": "李老师", "site": "河南省红十字血液中心", "appointment_date": yesterday}
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(high_res_typing, case.id)
        run = coordinator.run_named(f"high-res-typing-case-{case.id}")
        key, schema, _description = coordinator.next_form(run.id)
        assert key == "sample-booked-1" and schema["required"] == ["coordinator", "site", "appointment_date"]
        assert "default" not in schema["properties"]["appointment_date"]  # a booking starts empty
        coordinator.answer(run.id, booking)
        key, description = coordinator.answer(run.id, {**booking, "appointment_date": tomorrow})
        assert (
            key == "sample-booked-2" and f"the sample appointment {yesterday} is in the past" in description
        )
        key, _ = coordinator.answer(run.id, {"coordinator": "李老师", "sample_date": TODAY, "lab": "HLA lab"})
        assert key == "sample-1"
        result = {"coordinator": "李老师", "result_date": TODAY, "centre_decision": "proceed_to_workup"}
        coordinator.answer(run.id, {**result, **PATIENT_TYPING})
        assert running.result(timeout=60) == "advanced"
    wired.expire_all()
    records = wired.exec(select(CaseRecord).where(CaseRecord.case_id == case.id).order_by(col(CaseRecord.id)))
    assert [(r.key, r.data.get("appointment_date")) for r in records] == [
        ("sample-booked", tomorrow),
        ("sample", None),
        ("high-res-result", None),
    ]
    told = wired.exec(select(Outbox.template_key, Outbox.context).where(Outbox.kind == "message")).all()
    assert [context["appointment_date"] for key, context in told if key == "sample_booking"] == [tomorrow]


def test_a_typo_in_the_high_res_result_is_asked_again_prefilled_and_the_fix_advances_the_case(
    wired: Session,
) -> None:
    case = _case(wired, CaseStage.HIGH_RES_TYPING)
    _with_sample(wired, case)
    typo = {
        "coordinator": "李老师",
        "result_date": TODAY,
        "centre_decision": "proceed_to_workup",
        **{**PATIENT_TYPING, "a_2": "A*02:0x"},
    }
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(high_res_typing, case.id)
        run = coordinator.run_named(f"high-res-typing-case-{case.id}")
        _key, first_schema, _description = coordinator.next_form(run.id)
        coordinator.answer(run.id, typo)
        key, schema, description = coordinator.next_form(run.id)
        assert key == "high-res-result-2"
        assert schema["required"] == first_schema["required"]  # prefilled, not made optional
        defaults = {name: field.get("default") for name, field in schema["properties"].items()}
        assert {name: defaults[name] for name in typo} == typo  # the previous answer, to correct
        assert schema["properties"]["a_2"]["title"] == "A (2)"  # labels kept in the prefilled form
        assert description.startswith(
            r'**未接受 Not accepted: A (2): "A\*02:0x"'
        )  # escaped: markdown keeps the *
        assert "Not accepted: A (2)" in description and description.count("未接受") == 1
        # The reason also tops the coordinator field: the default UI hides a long form's description.
        on_top = schema["properties"]["coordinator"]["description"]
        assert on_top.startswith(r'**未接受 Not accepted: A (2): "A\*02:0x"') and f"case {case.id}" in on_top
        coordinator.answer(run.id, {**typo, "a_2": "A*02:01"})
        assert running.result(timeout=60) == "advanced"
    wired.expire_all()
    moved = wired.get(DonorCase, case.id)
    assert moved is not None and (moved.stage, moved.live_run_id) == ("exam", None)
    record = wired.exec(select(CaseRecord).where(CaseRecord.key == "high-res-result")).one()
    assert record.data["a_2"] == "A*02:01"
    assert 'answer 1 to high-res-result not accepted: A (2): "A*02:0x"' in _logs(run.id, logging.WARNING)
    assert "not accepted" not in _logs(run.id, logging.ERROR)


def test_date_pickers_show_the_shanghai_day_the_form_is_asked(wired: Session) -> None:
    case = _case(wired)
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(remobilise, case.id)
        run = coordinator.run_named(f"remobilise-case-{case.id}")
        _key, schema, _description = coordinator.next_form(run.id)
        shown = today()  # the Shanghai day (models/cases/forms.today)
        assert schema["properties"]["available_from"]["default"] == shown.isoformat()
        assert schema["properties"]["available_to"]["default"] == (shown + timedelta(days=90)).isoformat()
        coordinator.answer(
            run.id, {"coordinator": "李老师", "reached": "yes", "willing": "no", "health_ok": "yes"}
        )
        assert running.result(timeout=60) == "closed"


def test_phone_and_id_numbers_typed_into_a_note_are_masked_in_prefect_and_the_case_record(
    wired: Session,
) -> None:
    case = _case(wired)
    phone, national_id = "13812345678", "410102199001011234"
    note = f"家属电话 {phone}，身份证 {national_id}，下周再打"
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(remobilise, case.id)
        run = coordinator.run_named(f"remobilise-case-{case.id}")
        coordinator.answer(run.id, {"coordinator": "李老师", "reached": "no", "notes": note})
        coordinator.answer(run.id, {"coordinator": "李老师", "reached": "no", "notes": note})
        assert running.result(timeout=60) == "closed"
    with get_client(sync_client=True) as client:
        stored = client.filter_flow_run_input(run.id, key_prefix="", limit=100, exclude_keys=set())
    responses = [json.loads(i.value) for i in stored if i.key.endswith("-response")]
    assert len(responses) == 2
    everything = "\n".join(i.value for i in stored)
    assert phone not in everything and national_id not in everything
    assert all(r["notes"] == mask_text(note) for r in responses)
    assert "138****5678" in mask_text(note)
    assert all(r["available_from"] == TODAY for r in responses)  # complete: a replay needs no defaults
    records = wired.exec(select(CaseRecord).where(CaseRecord.case_id == case.id)).all()
    assert [r.data["notes"] for r in records] == [responses[0]["notes"]] * 2


def _prefect_run(state: State[Any]) -> str:
    with get_client(sync_client=True) as client:
        return str(client.create_flow_run(remobilise, name="an-earlier-run", state=state).id)


@pytest.mark.parametrize(
    ("holder", "why"),
    [(lambda: _prefect_run(Cancelled()), "Cancelled"), (lambda: str(uuid4()), "it does not exist")],
    ids=["cancelled", "missing"],
)
def test_a_claim_held_by_a_run_that_ended_is_taken_over_and_audited(
    wired: Session, holder: Callable[[], str], why: str
) -> None:
    case = _case(wired)
    stale = holder()
    wired.exec(update(DonorCase).where(col(DonorCase.id) == case.id).values(live_run_id=stale))
    wired.commit()
    coordinator = Coordinator()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(remobilise, case.id)
        run = coordinator.run_named(f"remobilise-case-{case.id}")
        coordinator.answer(
            run.id, {"coordinator": "李老师", "reached": "yes", "willing": "no", "health_ok": "yes"}
        )
        assert running.result(timeout=60) == "closed"
    audit = wired.exec(select(StageEvent).where(StageEvent.entity == "claim")).one()
    assert (audit.to_state, audit.flow_run_id, audit.actor) == ("taken_over", stale, "flow:remobilise")
    assert audit.reason == f"run {stale} is no longer running ({why})"


def test_a_claim_held_by_a_run_waiting_for_an_answer_is_refused(wired: Session) -> None:
    case = _case(wired)
    waiting = _prefect_run(Suspended())
    wired.exec(update(DonorCase).where(col(DonorCase.id) == case.id).values(live_run_id=waiting))
    wired.commit()
    state = remobilise(case.id, return_state=True)
    assert state.is_failed() and f"an-earlier-run ({waiting}), which waits for an answer" in str(
        state.message
    )
    assert "cases release" not in str(state.message)
    wired.expire_all()
    held = wired.get(DonorCase, case.id)
    assert held is not None and held.live_run_id == waiting
