"""Test data and helpers for the dashboard: a small funnel year, users, the CSRF token of a form."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session

from models.accounts import Role, add_user
from models.cases import CaseStage, advance_case, open_case
from models.core import StageEvent, transaction
from models.registry import RecruitmentEventCreate, create_event
from tests.factories import add_donor, add_search

PASSWORD = "correct horse battery"  # every test user's (10+ characters, as the rules ask)

# What `add_small_year` puts into 2021 (and a little into 2022 and a blood drive, which must not count).
SMALL_2021 = {
    "recruitment_events": 3,
    "registered": 4,
    "initial_screenings": 2,
    "remobilisations": 1,
    "high_res_samples": 0,
    "pre_donation_exams": 0,
    "donations": 0,
}


def add_small_year(session: Session) -> dict[str, int]:
    """Drives, registrations and cases with distinct counts for 2021; returns them (committed)."""
    for held_on in (date(2021, 3, 1), date(2021, 6, 14), date(2021, 12, 31), date(2022, 1, 1)):
        create_event(
            session=session, data=RecruitmentEventCreate(name="drive", held_on=held_on, location="郑州")
        )
    create_event(
        session=session,
        data=RecruitmentEventCreate(name="blood", held_on=date(2021, 5, 1), location="郑州", kind="blood"),
    )
    session.commit()
    donors = [add_donor(session) for _ in range(5)]
    for donor, year in zip(donors, (2021, 2021, 2021, 2021, 2022), strict=True):
        assert donor.id is not None
        session.add(
            StageEvent(
                entity="donor",
                donor_id=donor.id,
                to_state="registered",
                at=datetime(year, 4, 1, 2, tzinfo=UTC),
                actor="test",
            )
        )
    at = datetime(2021, 7, 1, 2, tzinfo=UTC)
    with transaction(session):
        for n, donor in enumerate(donors[:2]):
            assert donor.id is not None
            case = open_case(
                session=session, search_id=add_search(session).id, donor_id=donor.id, actor="t", at=at
            )
            if n == 0:
                advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="t", at=at)
    return dict(SMALL_2021)


def add_staff(session: Session, name: str, role: Role, password: str = PASSWORD) -> None:
    with transaction(session):
        add_user(session=session, name=name, role=role, password=password)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the smallest cost: the production parameters take ~0.1 s a hash, and these tests hash
    and verify dozens of times. Still argon2id, still checked the same way."""
    from models.accounts import credentials

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", cheap)
    monkeypatch.setattr(credentials, "_DUMMY_HASH", cheap.hash("dummy"))
