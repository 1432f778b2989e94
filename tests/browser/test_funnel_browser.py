"""A viewer compares 2021 with 2022 on the funnel page in a real browser and downloads a table as CSV and
as xlsx; the page is saved as screenshots (zh-CN and English) under var/test-output/screenshots/."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlmodel import Session

from models.accounts import Role
from tests.browser_support import log_in, screenshot, served_dashboard
from tests.dashboard_support import PASSWORD, add_staff
from tests.funnel_support import add_funnel_year


def _funnel_year_and_a_viewer(session: Session) -> None:
    add_funnel_year(session)
    add_staff(session, "看板", Role.VIEWER)


@pytest.fixture(scope="module")
def funnel_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_dashboard(tmp_path_factory.mktemp("funnel-browser"), _funnel_year_and_a_viewer) as (base, _):
        yield base


def test_compare_two_years_and_download_a_table_as_csv_and_xlsx(page: Page, funnel_url: str) -> None:
    page.goto(f"{funnel_url}/?from=2021-01-01&to=2021-12-31")
    log_in(page, "看板", PASSWORD)
    expect(page.locator("tr[data-stage='initial_screenings'] td.count")).to_have_text("7")

    page.get_by_role("link", name="与上一年同期对比").click()  # 2021 against 2020
    expect(page.locator("#funnel caption")).to_contain_text("对比 2020-01-01 至 2020-12-31")
    page.get_by_label("对比：起始日").fill("2022-01-01")
    page.get_by_label("对比：截止日").fill("2022-12-31")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("tr[data-stage='remobilisations'] td.count")).to_have_text("5")
    expect(page.locator("tr[data-stage='remobilisations'] td.count-b")).to_have_text("1")
    # A bar per non-zero count: 2021 has six (no member entered the registry in this data), 2022 two.
    expect(page.locator("#chart-funnel rect.bar")).to_have_count(8)
    expect(page.locator("#availability tr[data-stage='remobilising'] td").last).to_have_text("54.0%")
    screenshot(page, "10-funnel-2021-vs-2022-zh-CN")

    section = page.locator("#drives-section")
    with page.expect_download() as csv_download:
        section.get_by_role("link", name="CSV").click()
    csv_path = Path(csv_download.value.path())
    rows = list(csv.reader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    assert rows[0][:4] == ["招募活动", "日期", "区县", "入库志愿者"]
    assert [row[2] for row in rows[1:]] == ["金水区", "二七区"]
    with page.expect_download() as xlsx_download:
        section.get_by_role("link", name="Excel (xlsx)").click()
    assert xlsx_download.value.suggested_filename.endswith("_vs_2022-01-01_2022-12-31.xlsx")
    sheet = load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes())).active
    assert sheet is not None
    assert [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["金水区", "二七区"]

    page.get_by_role("link", name="English").click()
    expect(page.locator("#dropouts-section h2")).to_contain_text("Drop-outs by stage and reason")
    screenshot(page, "11-funnel-2021-vs-2022-en")
