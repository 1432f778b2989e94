"""高分辨: the confirmatory high-resolution typing — the sample booked, sent, then the lab's result."""

from __future__ import annotations

from prefect import flow

from flows.forms import HighResResultForm, SampleBookedForm, SampleSentForm
from flows.runtime import RELEASE_HOOKS, Step, run_link, run_steps
from models.cases import (
    HighResResult,
    Outcome,
    StepKey,
    book_sample,
    record_high_res_result,
    record_sample,
)
from models.core import Session

__all__ = ["high_res_typing"]


@flow(
    name="high-res-typing",
    flow_run_name="high-res-typing-case-{case_id}",
    persist_result=True,
    **RELEASE_HOOKS,
)
def high_res_typing(case_id: str) -> str:
    """Book the confirmatory sample, record it sent and the lab's high-resolution result (started when a
    member consents). The booking is not asked once the sample is recorded.

    Args:
        case_id: 处于高分辨阶段的案例编号。 The case in high-res typing.
    """
    return run_steps(
        case_id,
        "high-res-typing",
        Step(
            SampleBookedForm,
            StepKey.SAMPLE_BOOKED,
            "采样预约：地点和日期 Sample booked: site and date",
            book_sample,
        ),
        Step(
            SampleSentForm,
            StepKey.SAMPLE,
            "样本寄出：何时、寄往哪个实验室？ Sample sent: when, to which lab?",
            record_sample,
        ),
        Step(
            HighResResultForm,
            StepKey.HIGH_RES_RESULT,
            "高分辨结果与移植中心决定 High-resolution result and the centre's decision",
            _record_result,
        ),
    )


def _record_result(
    *, session: Session, case_id: str, answer: HighResResult, flow_run_id: str | None
) -> Outcome:
    """The result, and the coordinators' alert linking to this run."""
    link = run_link(flow_run_id) if flow_run_id else ""
    return record_high_res_result(
        session=session, case_id=case_id, answer=answer, flow_run_id=flow_run_id, link=link
    )
