"""The case page shows each grade's details (issue 13 items 4–7), Chinese first, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from hla import SHIPPED_DIR, Reference, load_reference
from models.accounts import Role
from models.cases import CaseGrade, DonorCase, grade_case
from models.registry import HlaTyping
from tests.dashboard_support import PASSWORD, add_staff, csrf_of
from tests.factories import PATIENT_TYPING, add_case
from tests.integration.dashboard.conftest import TestClient

# Patient DPB1*09:01 (TCE group 1) against the member's DPB1*02:01 (group 3): the patient's group is the
# more immunogenic, a non-permissive mismatch in the graft-versus-host direction (shipped dpb_tce.csv).
PATIENT = {**PATIENT_TYPING, "dpb1_1": "DPB1*09:01", "dpb1_2": "DPB1*04:01"}
MEMBER = {**PATIENT, "c_1": "C*04:09N", "dpb1_1": "DPB1*02:01"}  # C*04:09N: a null allele


@pytest.fixture(scope="module")
def shipped() -> Reference:
    return load_reference(SHIPPED_DIR)


def _log_in(client: TestClient, session: Session) -> None:
    add_staff(session, "李老师", Role.COORDINATOR)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "李老师", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def _graded_case(session: Session, reference: Reference) -> DonorCase:
    case = add_case(session)
    session.add(HlaTyping.model_validate({"donor_id": case.donor_id, "resolution": "high", **MEMBER}))
    session.add(HlaTyping.model_validate({"search_id": case.search_id, "resolution": "high", **PATIENT}))
    assert grade_case(session=session, case_id=case.id, source="screening", reference=reference) is not None
    session.commit()
    return case


def _grades_table(html: str) -> str:
    start = html.index('id="grades"')
    return html[start : html.index("</table>", start)]


def test_the_tce_groups_the_page_test_relies_on_are_those_shipped(shipped: Reference) -> None:
    assert (shipped.tce.get("09:01"), shipped.tce.get("02:01"), shipped.tce.get("04:01")) == (1, 3, 3)


def test_a_grade_shows_its_null_allele_dpb1_permissiveness_and_levels_in_chinese(
    client: TestClient, session: Session, shipped: Reference
) -> None:
    case = _graded_case(session, shipped)
    _log_in(client, session)
    grades = _grades_table(client.get(f"/cases/{case.id}").text)
    assert "C 位点含无效等位基因（一方为无效等位基因）" in grades
    assert "DPB1 非允许性错配（GvH 方向）" in grades
    assert "<details" in grades and "各位点匹配层级" in grades
    assert "第一段（等位基因组） / 不合（等位基因组不同）" in grades  # DPB1*09:01 against 02:01
    assert "蛋白（两段） / 确定相合" in grades
    assert "患者未分型位点" not in grades  # typed at every locus graded
    english = _grades_table(client.get(f"/cases/{case.id}?lang=en").text)
    assert (
        "Null allele at C (expressed vs null)" in english and "DPB1 non-permissive mismatch (GvH)" in english
    )
    assert "位点" not in english


def test_a_patient_untyped_at_a_locus_is_a_warning_beside_the_grade(
    client: TestClient, session: Session, shipped: Reference
) -> None:
    case = add_case(session)
    details: dict[str, Any] = {
        "nulls": {},
        "details": {},
        "patient_untyped": ["DQB1"],
        "dpb1_tce": None,
        "not_counted": ["DPB1"],
    }
    session.add(
        CaseGrade(
            case_id=case.id,
            source="screening",
            matched=10,
            of=10,
            mismatches=0,
            certainty="potential",
            details=details,
        )
    )
    session.commit()
    _log_in(client, session)
    grades = _grades_table(client.get(f"/cases/{case.id}").text)
    assert "患者未分型位点 DQB1：按潜在相合计" in grades
    assert "不计入总分：DPB1" in grades
    assert "DPB1 无错配" not in grades and "DPB1 允许性" not in grades  # DPB1 not graded: nothing said


def test_a_grade_from_before_the_details_shows_a_dash_and_stored_values_are_escaped(
    client: TestClient, session: Session
) -> None:
    case = add_case(session)
    hostile = {"level": "<script>alert(1)</script>", "confidence": "definite", "rule": "<b>x</b>"}
    for details in (None, {"details": {"A": [hostile]}, "dpb1_tce": "<i>new</i>"}):
        session.add(
            CaseGrade(
                case_id=case.id,
                source="screening",
                matched=8,
                of=8,
                mismatches=0,
                certainty="potential",
                details=details,
                at=datetime(2021, 7, 1, tzinfo=UTC),
            )
        )
    session.commit()
    _log_in(client, session)
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    grades = _grades_table(page.text)
    assert '<td class="grade-details">—</td>' in grades
    assert "<script>" not in grades and "&lt;script&gt;alert(1)&lt;/script&gt;" in grades
    assert "<b>x</b>" not in grades and "<i>new</i>" not in grades and "&lt;i&gt;new&lt;/i&gt;" in grades
