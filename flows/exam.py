"""捐献前体检: the pre-donation exam — booked, then the result with the CMDP panel."""

from __future__ import annotations

from prefect import flow

from flows.forms import ExamBookedForm, ExamResultForm
from flows.runtime import RELEASE_HOOKS, Step, run_steps
from models.cases import StepKey, book_exam, record_exam_result

__all__ = ["pre_donation_exam"]


@flow(
    name="pre-donation-exam",
    flow_run_name="pre-donation-exam-case-{case_id}",
    persist_result=True,
    **RELEASE_HOOKS,
)
def pre_donation_exam(case_id: str) -> str:
    """Book the work-up exam, then record passed / deferred / failed with the exam panel.

    Args:
        case_id: 处于捐献前体检阶段的案例编号。 The case at the exam stage.
    """
    return run_steps(
        case_id,
        "pre-donation-exam",
        Step(
            ExamBookedForm,
            StepKey.EXAM_BOOKED,
            "体检预约：医院和日期 Exam booked: hospital and date",
            book_exam,
        ),
        Step(
            ExamResultForm,
            StepKey.EXAM_RESULT,
            "体检结果与检查项目 Exam result and panel",
            record_exam_result,
        ),
    )
