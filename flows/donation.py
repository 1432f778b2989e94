"""捐献: the collection — booked (PBSC after G-CSF, or bone marrow), then completed; follow-up starts."""

from __future__ import annotations

from prefect import flow

from flows.forms import DonationBookedForm, DonationCompletedForm
from flows.runtime import RELEASE_HOOKS, Step, run_steps
from models.cases import StepKey, book_donation, record_donation

__all__ = ["donation"]


@flow(name="donation", flow_run_name="donation-case-{case_id}", persist_result=True, **RELEASE_HOOKS)
def donation(case_id: str) -> str:
    """Book the collection, then confirm it; on completion the follow-up schedule is created.

    Args:
        case_id: 处于捐献（采集）阶段的案例编号。 The case at the donation stage.
    """
    return run_steps(
        case_id,
        "donation",
        Step(
            DonationBookedForm,
            StepKey.DONATION_BOOKED,
            "采集预约 Collection booked",
            book_donation,
        ),
        Step(
            DonationCompletedForm,
            StepKey.DONATION_COMPLETED,
            "采集完成了吗？ Collection completed?",
            record_donation,
        ),
    )
