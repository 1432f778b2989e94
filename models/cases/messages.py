"""What the member of a case is told, and when: one function per message of the catalogue (issue 10).

Each queues one outbox row in the caller's transaction (models.outreach.enqueue), so a transition
rolled back tells no one, with an idempotency key per purpose, case and step: a flow re-run after a
suspend, or a duplicate trigger, queues nothing twice. Contexts carry the member's code and the facts
of the step, never a name, phone or ID number (the templates address the member as 志愿者 + code).
`channel` is left to the dispatcher: the member's preferred channel, then the fallbacks.
"""

from __future__ import annotations

from sqlmodel import Session

from models.cases.forms import DonationBooked, ExamBooked, SampleBooked
from models.cases.tables import DonorCase, PatientSearch
from models.outreach import Outbox, enqueue
from models.registry import Donor

__all__ = [
    "donation_thanks",
    "exam_booking",
    "gcsf_schedule",
    "remobilisation_contact",
    "sample_appointment",
    "sample_booking",
]


def _tell(
    session: Session,
    case: DonorCase,
    template_key: str,
    purpose: str,
    urgent: bool = False,
    **facts: str | int,
) -> Outbox | None:
    donor = session.get(Donor, case.donor_id)
    assert donor is not None  # a case's member is never deleted (a withdrawal erases, keeps the row)
    return enqueue(
        session=session,
        donor=donor,
        template_key=template_key,
        context={"code": donor.code, **facts},
        key=f"case:{case.id}:{purpose}",
        urgent=urgent,
    )


def remobilisation_contact(*, session: Session, case: DonorCase, attempt: int) -> Outbox | None:
    """再动员: "you may match a patient, please call us", once per contact attempt. Urgent (sent in quiet
    hours too) when the patient's search is urgent: a waiting patient does not wait for the morning."""
    search = session.get(PatientSearch, case.search_id)
    urgent = search is not None and search.urgency == "urgent"
    return _tell(
        session, case, "remobilisation_contact", f"contact:{attempt}", urgent=urgent, attempt=attempt
    )


def sample_appointment(*, session: Session, case: DonorCase) -> Outbox | None:
    """The member consented: a coordinator will call to arrange the confirmatory sample."""
    return _tell(session, case, "sample_appointment", "sample_appointment")


def sample_booking(*, session: Session, case: DonorCase, booking: SampleBooked) -> Outbox | None:
    """Where and when the confirmatory sample is taken (the template adds the preparation). Keyed by the
    date: a booking moved to another day is a new message."""
    day = booking.appointment_date.isoformat()
    return _tell(
        session, case, "sample_booking", f"sample_booking:{day}", site=booking.site, appointment_date=day
    )


def exam_booking(*, session: Session, case: DonorCase, booking: ExamBooked) -> Outbox | None:
    """Where and when the work-up exam is (the template adds the preparation). Keyed by the date: a
    booking moved to another day is a new message."""
    day = booking.exam_date.isoformat()
    return _tell(
        session, case, "exam_booking", f"exam_booking:{day}", hospital=booking.hospital, exam_date=day
    )


def gcsf_schedule(*, session: Session, case: DonorCase, booking: DonationBooked) -> Outbox | None:
    """The G-CSF days and the collection day (the template explains the injections). Keyed by both
    dates: a booking moved is a new message."""
    start, collection = booking.gcsf_start.isoformat(), booking.collection_date.isoformat()
    return _tell(
        session,
        case,
        "gcsf_schedule",
        f"gcsf_schedule:{start}:{collection}",
        hospital=booking.hospital,
        gcsf_start=start,
        collection_date=collection,
    )


def donation_thanks(*, session: Session, case: DonorCase) -> Outbox | None:
    """Thank you, after the collection (the follow-ups have their own messages)."""
    return _tell(session, case, "donation_thanks", "thanks")
