"""A coordinator in a real browser finds a case by its member's code, opens it, reveals the phone for a
stated reason; an admin then sees that reveal in /reveals. Each page is saved as a screenshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from models.accounts import Role
from models.cases import CaseStage
from models.registry import Donor
from tests.browser_support import log_in, screenshot, served_dashboard
from tests.dashboard_support import PASSWORD, add_small_year, add_staff
from tests.factories import add_case


def _cases_and_staff(session: Session) -> str:
    """Cases, a coordinator and an admin; the code of the member whose phone the test reveals."""
    add_small_year(session)
    case = add_case(session, stage=CaseStage.REMOBILISING, name="张三丰")
    donor = session.get(Donor, case.donor_id)
    assert donor is not None
    donor.city, donor.district = "郑州市", "金水区"
    session.add(donor)
    session.commit()
    code = donor.code
    add_staff(session, "李老师", Role.COORDINATOR)
    add_staff(session, "管理员", Role.ADMIN)
    return code


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The dashboard on a fresh SQLite database with cases, a coordinator and an admin; (url, code)."""
    directory = tmp_path_factory.mktemp("cases-browser")
    with served_dashboard(directory, _cases_and_staff, prefect_ui_url="http://127.0.0.1:9") as served:
        yield served


def test_search_a_member_code_open_the_case_reveal_the_phone_and_see_it_audited(
    page: Page, workbench: tuple[str, str]
) -> None:
    base, code = workbench
    page.goto(f"{base}/cases")
    log_in(page, "李老师", PASSWORD)
    expect(page.locator("h1")).to_have_text("病例")
    page.get_by_label("搜索").fill(code)
    page.get_by_role("button", name="查找").click()
    rows = page.locator("table#cases tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.member")).to_have_text(code)
    screenshot(page, "10-cases-search-zh-CN")

    rows.first.locator("a").click()
    expect(page.locator("h1")).to_have_text(f"病例 · 志愿者 {code}")
    expect(page.locator("#member .masked-phone")).to_have_text("138****8000")
    expect(page.locator("body")).not_to_contain_text("13800138000")
    expect(page.locator("body")).not_to_contain_text("张三丰")
    screenshot(page, "11-case-masked-zh-CN")

    page.get_by_label("原因").select_option("contact_for_case")
    page.get_by_role("button", name="查看手机与地址").click()
    expect(page.locator("#contact .phone")).to_have_text("13800138000")
    expect(page.locator("#contact")).to_contain_text("郑州市 金水区")
    assert "13800138000" not in page.url
    screenshot(page, "12-case-revealed-zh-CN")

    page.get_by_role("button", name="退出登录").click()
    page.goto(f"{base}/reveals")
    log_in(page, "管理员", PASSWORD)
    row = page.locator("table#reveals tbody tr").first
    expect(row.locator(".who")).to_have_text("李老师")
    expect(row.locator(".member")).to_have_text(code)
    expect(row.locator(".reason")).to_have_text("联系志愿者推进病例")
    expect(page.locator("body")).not_to_contain_text("13800138000")
    screenshot(page, "13-reveals-admin-zh-CN")
