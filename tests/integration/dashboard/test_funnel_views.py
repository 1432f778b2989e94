"""The funnel page and /api/funnel show the very numbers `donorflow funnel --json` prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from models.accounts import Role, issue_token
from models.core import transaction
from tests.dashboard_support import PASSWORD, SMALL_2021, add_small_year, add_staff, csrf_of
from tests.integration.dashboard.conftest import Clock, TestClient

DONORFLOW = str(Path(sys.executable).with_name("donorflow"))


def _counts_on_the_page(html: str) -> dict[str, int]:
    rows = re.findall(r'<tr data-stage="(\w+)">.*?<td class="num count">([\d,]+)</td>', html, re.S)
    return {key: int(value.replace(",", "")) for key, value in rows}


def _log_in(client: TestClient, name: str) -> None:
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})


def test_the_api_returns_what_donorflow_funnel_json_prints(
    client: TestClient, session: Session, database_url: str, tmp_path: Path
) -> None:
    add_small_year(session)
    add_staff(session, "api", Role.VIEWER)  # viewers read aggregates
    with transaction(session):
        token = issue_token(session=session, name="api")
    response = client.get(
        "/api/funnel",
        params={"from": "2021-01-01", "to": "2021-12-31"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    cli = subprocess.run(
        [DONORFLOW, "funnel", "--from", "2021-01-01", "--to", "2021-12-31", "--json"],
        env={**os.environ, "DONORFLOW_DATABASE_URL": database_url, "DONORFLOW_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert response.json() == json.loads(cli.stdout) == SMALL_2021
    assert list(response.json()) == list(json.loads(cli.stdout))  # the same keys in the same order


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"from": "2021-13-01", "to": "2021-12-31"}, "not a date"),
        ({"from": "2021-02-01", "to": "2021-01-01"}, "ends before"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "must lie between"),  # was a 500
    ],
)
def test_the_api_refuses_a_bad_period_with_422(
    client: TestClient, session: Session, query: dict[str, str], detail: str
) -> None:
    add_staff(session, "api", Role.VIEWER)
    with transaction(session):
        token = issue_token(session=session, name="api")
    response = client.get("/api/funnel", params=query, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_the_page_shows_this_years_funnel_by_default_and_any_period_asked(
    client: TestClient, session: Session, clock: Clock
) -> None:
    add_small_year(session)
    add_staff(session, "li", Role.VIEWER)
    _log_in(client, "li")
    page = client.get("/")  # the clock says 2021
    assert page.status_code == 200
    assert _counts_on_the_page(page.text) == SMALL_2021
    assert "2021-01-01 至 2021-12-31" in page.text and "招募活动" in page.text
    next_year = _counts_on_the_page(client.get("/?from=2022-01-01&to=2022-12-31").text)
    assert (next_year["recruitment_events"], next_year["registered"]) == (1, 1)
    bad = client.get("/?from=2022-01-01&to=2021-01-01")
    assert bad.status_code == 400 and "日期无效" in bad.text
    endless = client.get("/?from=0001-01-01&to=9999-12-31")  # was a 500
    assert endless.status_code == 400 and "日期无效" in endless.text


def test_the_language_switch_is_kept_in_a_cookie(client: TestClient, session: Session) -> None:
    add_staff(session, "li", Role.VIEWER)
    _log_in(client, "li")
    english = client.get("/?from=2021-01-01&to=2021-12-31&lang=en")
    assert "Recruitment drives" in english.text and "lang=en" in english.headers["set-cookie"]
    assert 'href="/?from=2021-01-01&amp;to=2021-12-31&amp;lang=zh-CN"' in english.text  # the way back
    assert "Recruitment drives" in client.get("/").text
    assert "招募活动" in client.get("/?lang=zh-CN").text
