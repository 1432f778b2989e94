"""捐献前体检: the pre-donation exam — booked, then the result with the CMDP panel."""

from __future__ import annotations

from prefect import flow

from flows.forms import ExamBookedForm, ExamResultForm
from flows.runtime import answer_step, finish, stage_run
from models.stages import book_exam, record_exam_result

__all__ = ["pre_donation_exam"]


@flow(name="pre-donation-exam", flow_run_name="pre-donation-exam-case-{case_id}", persist_result=True)
def pre_donation_exam(case_id: str) -> str:
    """Book the work-up exam, then record passed / deferred / failed with the exam panel.

    Args:
        case_id: the case at the exam stage.
    """
    with stage_run(case_id, "pre-donation-exam") as run_id:
        answer_step(
            case_id, run_id, ExamBookedForm, "exam-booked", "Exam booked: hospital and date", book_exam
        )
        outcome = answer_step(
            case_id, run_id, ExamResultForm, "exam-result", "Exam result and panel", record_exam_result
        )
    # The event goes out after the case is released, so the next stage's run can claim it at once.
    return finish(case_id, outcome).result
