"""高分辨: the confirmatory high-resolution typing — sample sent, then the lab's result."""

from __future__ import annotations

from prefect import flow

from flows.forms import HighResResultForm, SampleSentForm
from flows.runtime import answer_step, finish, stage_run
from models.stages import record_high_res_result, record_sample

__all__ = ["high_res_typing"]


@flow(name="high-res-typing", flow_run_name="high-res-typing-case-{case_id}", persist_result=True)
def high_res_typing(case_id: str) -> str:
    """Record the confirmatory sample and the lab's high-resolution result (started when a member consents).

    Args:
        case_id: the case in high-res typing.
    """
    with stage_run(case_id, "high-res-typing") as run_id:
        answer_step(
            case_id, run_id, SampleSentForm, "sample", "Sample sent: when, to which lab?", record_sample
        )
        outcome = answer_step(
            case_id,
            run_id,
            HighResResultForm,
            "high-res-result",
            "High-resolution result and the centre's decision",
            record_high_res_result,
        )
    # The event goes out after the case is released, so the next stage's run can claim it at once.
    return finish(case_id, outcome).result
