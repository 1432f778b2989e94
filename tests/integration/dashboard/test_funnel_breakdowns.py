"""The funnel page's breakdowns: two periods side by side, every table downloadable as CSV and xlsx with
the page's numbers, the same numbers as JSON under /api/funnel/… for any role with a token."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook
from sqlmodel import Session

from dashboard.analytics import TABLE_KEYS
from models.accounts import Role, issue_token
from models.core import transaction
from tests.dashboard_support import PASSWORD, add_staff, csrf_of
from tests.funnel_support import EXPECTED, add_funnel_year
from tests.integration.dashboard.conftest import TestClient

BOTH = {"from": "2021-01-01", "to": "2021-12-31", "cfrom": "2022-01-01", "cto": "2022-12-31"}


def _log_in_as_viewer(client: TestClient, session: Session) -> None:
    add_staff(session, "看板", Role.VIEWER)  # viewers read aggregates
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"name": "看板", "password": PASSWORD, "csrf_token": token})


def _row(html: str, table: str, key: str) -> list[str]:
    """The cells of one row of one table, as the page shows them."""
    section = html.split(f'<table class="funnel data" id="{table}">', 1)[1].split("</table>", 1)[0]
    row = re.search(rf'<tr data-(?:stage|key)="{re.escape(key)}">(.*?)</tr>', section, re.S)
    assert row, f"no row {key} in {table}"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1))
    ]


def test_two_periods_side_by_side_with_their_change(client: TestClient, session: Session) -> None:
    add_funnel_year(session)
    _log_in_as_viewer(client, session)
    html = client.get("/", params={**BOTH, "lang": "en"}).text
    # stage, 2021 count and conversion, 2022 count and conversion, change
    assert _row(html, "funnel", "initial_screenings") == ["Initial screenings", "7", "–", "0", "–", "–"]
    assert _row(html, "funnel", "remobilisations") == ["Re-mobilisations", "5", "71.4%", "1", "–", "400.0%"]
    assert _row(html, "funnel", "recruitment_events") == ["Recruitment drives", "2", "–", "1", "–", "100.0%"]
    assert _row(html, "durations", "screened") == [
        "Initial screening",
        "6",
        "4.0",
        "20.0",
        "1",
        "11.6",
        "11.6",
    ]
    assert _row(html, "dropouts", "remobilising") == ["Re-mobilisation", "1", "1", "0", "0", "0", "0", "2"]
    assert _row(html, "availability", "remobilising")[-1] == "54.0%"  # the anchor beside the branch's own
    assert 'id="chart-funnel"' in html and 'id="chart-durations"' in html
    assert "<script" not in html and "style=" not in html  # the CSP forbids both: nothing relies on them
    assert "Screenings search the whole registry" in html  # the definitions are on the page


def test_every_table_downloads_as_csv_and_xlsx_with_the_pages_numbers(
    client: TestClient, session: Session
) -> None:
    add_funnel_year(session)
    _log_in_as_viewer(client, session)
    for key in TABLE_KEYS:
        response = client.get(f"/export/{key}.csv", params={**BOTH, "lang": "en"})
        assert response.status_code == 200, key
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
        assert (
            f'filename="{key}_2021-01-01_2021-12-31_vs_2022-01-01_2022-12-31.csv"'
            in (response.headers["content-disposition"])
        )
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        book = load_workbook(io.BytesIO(client.get(f"/export/{key}.xlsx", params=BOTH).content))
        sheet = book.active
        assert sheet is not None
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert len(rows) == len(cells) > 1, key
    drives = list(
        csv.reader(
            io.StringIO(
                client.get("/export/drives.csv", params={**BOTH, "lang": "zh-CN"}).text.lstrip("\ufeff")
            )
        )
    )
    assert drives[0][:4] == [
        "招募活动",
        "日期",
        "区县",
        "入库志愿者",
    ]  # the headers in the visitor's language
    by_district = {row[2]: row for row in drives[1:]}
    registered, reached = EXPECTED["drives_2021"]["金水区"]
    assert by_district["金水区"][3:] == [str(registered), *(str(n) for n in reached.values())]
    sheet = load_workbook(io.BytesIO(client.get("/export/durations.xlsx", params=BOTH).content)).active
    assert sheet is not None
    screened = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "初筛")
    assert screened == ("初筛", 6, 4.0, 20.0, 1, 11.6, 11.6)  # numbers stay numbers in xlsx
    funnel = load_workbook(io.BytesIO(client.get("/export/funnel.xlsx", params=BOTH).content)).active
    assert funnel is not None
    remob = next(row for row in funnel.iter_rows(values_only=True) if row[0] == "再动员")
    assert remob[:3] == ("再动员", 5, round(5 / 7, 4))
    assert funnel["C3"].number_format == "0.0%"


def test_an_unknown_table_is_404_and_half_a_second_period_is_400(
    client: TestClient, session: Session
) -> None:
    _log_in_as_viewer(client, session)
    assert client.get("/export/members.csv").status_code == 404
    assert client.get("/export/funnel.pdf").status_code == 404
    assert client.get("/export/funnel.csv", params={"cfrom": "2020-01-01"}).status_code == 400
    page = client.get("/", params={"from": "2021-01-01", "to": "2021-12-31", "cfrom": "2020-01-01"})
    assert page.status_code == 400


def test_a_drive_name_that_looks_like_a_formula_is_kept_as_text_in_the_csv(
    client: TestClient, session: Session
) -> None:
    from datetime import date

    from models.registry import RecruitmentEventCreate, create_event

    with transaction(session):
        create_event(
            session=session,
            data=RecruitmentEventCreate(name="=HYPERLINK(1)", held_on=date(2021, 5, 1), location="郑州"),
        )
    _log_in_as_viewer(client, session)
    text = client.get("/export/drives.csv", params={"from": "2021-01-01", "to": "2021-12-31"}).text
    assert "'=HYPERLINK(1)" in text


def test_the_api_gives_each_breakdown_to_a_viewers_token(client: TestClient, session: Session) -> None:
    add_funnel_year(session)
    add_staff(session, "api", Role.VIEWER)
    with transaction(session):
        token = issue_token(session=session, name="api")
    auth = {"Authorization": f"Bearer {token}"}
    year = {"from": "2021-01-01", "to": "2021-12-31"}
    period = client.get("/api/funnel/period", params=year, headers=auth).json()
    assert period["completed_collections"] == 1 and period["counts"]["initial_screenings"] == 7
    durations = client.get("/api/funnel/durations", params=year, headers=auth).json()
    assert [d["median_days"] for d in durations] == [v[1] for v in EXPECTED["durations_2021"].values()]
    shares = {
        a["stage"]: a["share"]
        for a in client.get("/api/funnel/availability", params=year, headers=auth).json()
    }
    assert shares == {"remobilising": 0.6, "exam": 0.5}
    assert len(client.get("/api/funnel/dropouts", params=year, headers=auth).json()) == 6
    assert [d["district"] for d in client.get("/api/funnel/drives", params=year, headers=auth).json()] == [
        "金水区",
        "二七区",
    ]
    assert client.get("/api/funnel/districts", params=year).status_code == 401
    bad = client.get("/api/funnel/durations", params={"from": "2021-12-31", "to": "2021-01-01"}, headers=auth)
    assert bad.status_code == 422
