"""The seed year replayed: the synthetic 2021 reproduces the annual report's stem-cell figures exactly.

The replay is a few thousand transactions, so it runs once per database (a module fixture) and every
test reads the snapshot taken right after it; the second load is tried there too, while the year is in.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func
from sqlalchemy import select as columns
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from donorflow.demo_year import ACTOR, SEED_FIGURES, replay_zhengzhou_2021
from donorflow.demo_year.load import DEMO_HISTORY
from donorflow.settings import Settings
from models.accounts import Role
from models.cases import CloseReason, DonorCase, FollowUp, PatientSearch
from models.core import StageEvent, ValidationError, local_date, utcnow
from models.intake import ImportPolicy
from models.outreach import Outbox
from models.registry import Donor, RecruitmentEvent
from tests.dashboard_support import PASSWORD, add_staff
from tests.databases import empty_all_tables

pytestmark = pytest.mark.slow  # one replay per database: tens of seconds each

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = ImportPolicy(id_salt=b"test-salt-not-secret")
DONATE_MAX_AGE = Settings.model_fields["donate_max_age"].default  # what `donorflow demo` passes by default
REPORT_2021 = {  # Zhengzhou Red Cross Society, 2021 annual work report (shared/data/zhengzhou-2021.json)
    "recruitment_events": 73,
    "registered": 2358,
    "initial_screenings": 2369,
    "remobilisations": 307,
    "high_res_samples": 89,
    "pre_donation_exams": 50,
    "donations": 39,
}
SHARED_FIGURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "zhengzhou-2021.json"
PACKAGED_FIGURES = Path(__file__).resolve().parents[2] / "donorflow" / "data" / "zhengzhou-2021.json"
# Everything the seed decides (codes, statuses, stage events with their times), hashed. It changes only
# when the demo year's generator does: if you changed it on purpose, put the new value here.
SEED_2021_DIGEST = "431b460b2326c03376182c5b43ba0acfc787db76a9970b830e5893a4a671eba3"


@dataclass(frozen=True)
class Replayed:
    backend: str
    counts: dict[str, int]
    cases: list[tuple[str, str, str, str, str | None, date]]  # patient, member, stage, status, reason, opened
    donated_2021: list[tuple[str, str]]  # stage and status of the cases that donated in 2021
    digest: str
    drives_2021: list[tuple[str, date]]
    sign_ups_2021: list[tuple[date, date, date]]  # drive day, consent day (local), birth date
    last_event_at: datetime
    actors: set[str]
    second_load_error: str | None
    rows_before: dict[str, int]
    rows_after: dict[str, int]
    outbox: dict[tuple[str, str, str | None], int]
    follow_ups: dict[tuple[str, str], int]  # (status, outcome) → rows
    cases_at_follow_up: int
    follow_up_cases: int
    first_open_due: date | None


@pytest.fixture(scope="module")
def replayed(engine: Engine) -> Replayed:
    """Replay once, try a second load, and snapshot what the tests read; the session is closed before
    they run, so other modules sharing this database never wait on it."""
    empty_all_tables(engine)
    with Session(engine) as session:
        counts = replay_zhengzhou_2021(session=session, policy=POLICY, donate_max_age=DONATE_MAX_AGE)
        rows_before = _row_counts(session)
        try:
            replay_zhengzhou_2021(session=session, policy=POLICY, donate_max_age=DONATE_MAX_AGE)
            error = None
        except ValidationError as exc:
            error = str(exc)
        return Replayed(
            backend=engine.dialect.name,
            counts=counts.model_dump(),
            cases=_cases(session),
            donated_2021=_donated_2021(session),
            digest=_digest(session),
            drives_2021=_drives_2021(session),
            sign_ups_2021=_sign_ups_2021(session),
            last_event_at=session.exec(select(func.max(StageEvent.at))).one(),
            actors=set(session.exec(select(StageEvent.actor).distinct())),
            second_load_error=error,
            rows_before=rows_before,
            rows_after=_row_counts(session),
            outbox=dict(Counter(session.exec(select(Outbox.kind, Outbox.status, Outbox.last_error)).all())),
            follow_ups=_follow_ups(session),
            cases_at_follow_up=session.exec(
                select(func.count()).select_from(DonorCase).where(DonorCase.stage == "follow_up")
            ).one(),
            follow_up_cases=session.exec(select(func.count(func.distinct(FollowUp.case_id)))).one(),
            first_open_due=session.exec(
                select(func.min(FollowUp.due_on)).where(FollowUp.status == "due")
            ).one(),
        )


def test_replay_gives_the_2021_stem_cell_figures_exactly(replayed: Replayed) -> None:
    assert replayed.counts == REPORT_2021
    assert replayed.counts == SEED_FIGURES


def test_the_dashboard_shows_the_demo_years_funnel_in_a_browser(
    replayed: Replayed, engine: Engine, page: Page
) -> None:
    """A coordinator opens the 2021 funnel of the demo year in the dashboard and reads the report's figures
    (Debian's chromium through Playwright, tests/browser_support.py)."""
    from dashboard import DashboardConfig, create_app
    from tests.browser_support import funnel_counts_on, log_in, screenshot, served

    with Session(engine) as session:
        add_staff(session, "李老师", Role.COORDINATOR)
    app = create_app(DashboardConfig(session_factory=lambda: Session(engine), secret_key="demo-year-test"))
    with served(app) as base:
        page.goto(f"{base}/?from=2021-01-01&to=2021-12-31")
        log_in(page, "李老师", PASSWORD)
        expect(page.locator("tr[data-stage='registered'] td.count")).to_have_text("2,358")
        assert funnel_counts_on(page) == REPORT_2021
        screenshot(page, f"06-demo-year-2021-{replayed.backend}")


def test_every_donation_has_its_follow_ups_and_the_past_ones_are_history(replayed: Replayed) -> None:
    """A coordinator records the next follow-up of a demo donor (the follow-up deployment); the reminder
    engine's first run does not list five years of demo follow-ups as missed."""
    assert replayed.cases_at_follow_up > 0
    assert replayed.follow_up_cases == replayed.cases_at_follow_up
    assert sum(replayed.follow_ups.values()) == 14 * replayed.cases_at_follow_up
    assert set(replayed.follow_ups) == {("answered", "演示数据：历史随访 demo history"), ("due", "")}
    assert replayed.first_open_due is not None and replayed.first_open_due >= local_date(utcnow())


def test_packaged_figures_are_the_shared_data_verbatim() -> None:
    if not SHARED_FIGURES.exists():
        pytest.skip("shared/data is not beside this checkout")
    shared = json.loads(SHARED_FIGURES.read_text(encoding="utf-8"))
    packaged = json.loads(PACKAGED_FIGURES.read_text(encoding="utf-8"))
    assert packaged["stem_cell"] == shared["stem_cell"]
    assert {key: shared["stem_cell"][key] for key in SEED_FIGURES} == SEED_FIGURES


def test_screenings_are_person_times_some_members_are_screened_for_several_patients(
    replayed: Replayed,
) -> None:
    screened = Counter(member for _, member, *_, opened in replayed.cases if opened.year == 2021)
    assert sum(screened.values()) == REPORT_2021["initial_screenings"]
    assert len(screened) < REPORT_2021["initial_screenings"]
    assert max(screened.values()) >= 2


def test_closed_cases_carry_the_registry_reasons_donor_reasons_included(replayed: Replayed) -> None:
    reasons = Counter(reason for *_, status, reason, _ in replayed.cases if status == "closed")
    assert set(reasons) <= {reason.value for reason in CloseReason}
    for reason in ("unreachable", "medical_deferral", "declined", "not_selected"):
        assert reasons[reason] > 0, reason
    # Anthony Nolan: no contact and medical reasons each outnumber personal ones (DESIGN.md §6).
    assert reasons["unreachable"] > reasons["declined"] and reasons["medical_deferral"] > reasons["declined"]


def test_every_donor_of_the_year_is_in_follow_up(replayed: Replayed) -> None:
    assert len(replayed.donated_2021) == REPORT_2021["donations"]
    assert set(replayed.donated_2021) == {("follow_up", "active")}


def test_searches_carried_in_from_2020_give_donations_early_in_2021(replayed: Replayed) -> None:
    assert {patient[:4] for patient, *_ in replayed.cases} == {"P20-", "P21-"}
    assert any(opened.year == 2020 for *_, opened in replayed.cases)


def test_drives_avoid_the_spring_festival_and_sign_ups_consent_on_the_day_aged_18_to_45(
    replayed: Replayed,
) -> None:
    assert len(replayed.drives_2021) == REPORT_2021["recruitment_events"]
    assert not [day for _, day in replayed.drives_2021 if date(2021, 2, 11) <= day <= date(2021, 2, 17)]
    assert len(replayed.sign_ups_2021) == REPORT_2021["registered"]
    for held_on, consented_on, birth in replayed.sign_ups_2021:
        assert consented_on == held_on
        age = held_on.year - birth.year - ((held_on.month, held_on.day) < (birth.month, birth.day))
        assert 18 <= age <= 45


def test_nothing_is_dated_after_the_year_and_the_demo_signs_every_audit_event(replayed: Replayed) -> None:
    assert replayed.last_event_at < datetime(2022, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    assert replayed.actors == {ACTOR}


def test_the_year_is_history_nothing_it_queued_is_sent_or_emitted_now(replayed: Replayed) -> None:
    # The replay announces no stage events (each would start a stage run for a 2021 case once `make up`
    # relays), and the messages it queued went out in 2021: none is pending now.
    assert {(kind, status, reason) for kind, status, reason in replayed.outbox} == {
        ("message", "skipped", DEMO_HISTORY)
    }
    messages = sum(n for (kind, _, _), n in replayed.outbox.items() if kind == "message")
    assert messages >= SEED_FIGURES["registered"]  # a welcome each, at least


def test_loading_twice_is_refused_and_changes_nothing(replayed: Replayed) -> None:
    assert replayed.second_load_error == "the demo year is already loaded"
    assert replayed.rows_after == replayed.rows_before


def test_same_seed_gives_the_same_codes_statuses_and_events(replayed: Replayed) -> None:
    # A digest fixed in this file: both databases, and every run, must give exactly this year.
    assert replayed.digest == SEED_2021_DIGEST, f"{replayed.backend}: {replayed.digest}"


# -- snapshot helpers ---------------------------------------------------------------------------------
def _follow_ups(session: Session) -> dict[tuple[str, str], int]:
    rows = session.exec(select(FollowUp.status, FollowUp.outcome)).all()
    return dict(Counter((status, outcome or "") for status, outcome in rows))


def _row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.exec(select(func.count()).select_from(table)).one()
        for table in SQLModel.metadata.sorted_tables
    }


def _cases(session: Session) -> list[tuple[str, str, str, str, str | None, date]]:
    rows = session.execute(
        columns(
            col(PatientSearch.patient_code),
            col(Donor.code),
            col(DonorCase.stage),
            col(DonorCase.status),
            col(DonorCase.closed_reason),
            col(DonorCase.opened_at),
        )
        .join(PatientSearch, col(PatientSearch.id) == DonorCase.search_id)
        .join(Donor, col(Donor.id) == DonorCase.donor_id)
        .order_by(col(PatientSearch.patient_code), col(Donor.code))
    ).all()
    return [
        (patient, code, stage, status, reason, opened.astimezone(SHANGHAI).date())
        for patient, code, stage, status, reason, opened in rows
    ]


def _donated_2021(session: Session) -> list[tuple[str, str]]:
    low = datetime(2021, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    high = datetime(2022, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
    rows = session.execute(
        columns(col(DonorCase.stage), col(DonorCase.status))
        .join(StageEvent, col(StageEvent.case_id) == DonorCase.id)
        .where(col(StageEvent.to_state) == "donation", col(StageEvent.at) >= low, col(StageEvent.at) < high)
    ).all()
    return [(stage, status) for stage, status in rows]


def _digest(session: Session) -> str:
    """Members and their statuses, cases and every stage event; not the case ids (random UUIDs)."""
    members = session.execute(
        columns(col(Donor.code), col(Donor.status), col(Donor.status_until)).order_by(col(Donor.code))
    ).all()
    events = session.execute(
        columns(
            col(Donor.code),
            col(PatientSearch.patient_code),
            col(StageEvent.entity),
            col(StageEvent.from_state),
            col(StageEvent.to_state),
            col(StageEvent.at),
            col(StageEvent.reason),
        )
        .join(Donor, col(Donor.id) == StageEvent.donor_id)
        .outerjoin(DonorCase, col(DonorCase.id) == StageEvent.case_id)
        .outerjoin(PatientSearch, col(PatientSearch.id) == DonorCase.search_id)
    ).all()
    lines = sorted(json.dumps([*row[:5], row[5].isoformat(), row[6]], ensure_ascii=False) for row in events)
    listed = [[code, status, str(until)] for code, status, until in members]
    cases = [[*case[:5], case[5].isoformat()] for case in _cases(session)]
    payload = json.dumps([listed, cases, lines], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _drives_2021(session: Session) -> list[tuple[str, date]]:
    rows = session.execute(
        columns(col(RecruitmentEvent.name), col(RecruitmentEvent.held_on))
        .where(col(RecruitmentEvent.held_on).between(date(2021, 1, 1), date(2021, 12, 31)))
        .order_by(col(RecruitmentEvent.held_on))
    ).all()
    return [(name, held_on) for name, held_on in rows]


def _sign_ups_2021(session: Session) -> list[tuple[date, date, date]]:
    rows = session.execute(
        columns(col(RecruitmentEvent.held_on), col(Donor.consent_at), col(Donor.birth_date))
        .join(RecruitmentEvent, col(RecruitmentEvent.id) == Donor.event_id)
        .where(col(RecruitmentEvent.held_on) >= date(2021, 1, 1))
    ).all()
    return [
        (held_on, consent.astimezone(SHANGHAI).date(), birth)
        for held_on, consent, birth in rows
        if consent is not None and birth is not None
    ]
