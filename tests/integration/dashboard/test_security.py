"""The dashboard's doors on both databases: logins, sessions, CSRF, throttling, the API's tokens."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from models.accounts import LoginAttempt, Role, User, set_password
from models.core import transaction
from tests.dashboard_support import PASSWORD, add_staff, csrf_of
from tests.integration.dashboard.conftest import TestClient


def _log_in(client: TestClient, name: str, password: str = PASSWORD, next_: str = "/") -> int:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"name": name, "password": password, "csrf_token": token, "next": next_}
    )
    return int(response.status_code)


@pytest.mark.parametrize("path", ["/", "/?from=2021-01-01&to=2021-12-31"])
def test_a_page_without_a_login_is_a_303_to_the_login_page(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2F")
    assert client.get(response.headers["location"]).status_code == 200


def test_logging_in_goes_where_the_visitor_was_going_with_a_signed_httponly_lax_cookie(
    client: TestClient, session: Session
) -> None:
    add_staff(session, "李老师", Role.COORDINATOR)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"name": "李老师", "password": PASSWORD, "csrf_token": token, "next": "/?from=2021-01-01"},
    )
    assert (response.status_code, response.headers["location"]) == (303, "/?from=2021-01-01")
    cookie = response.headers["set-cookie"].lower()
    assert "donorflow_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert PASSWORD not in response.headers["set-cookie"]
    page = client.get("/")
    assert page.status_code == 200 and "李老师（协调员）" in page.text
    assert csrf_of(page.text) != token  # a login starts a new session: the anonymous token is gone


def test_a_login_never_redirects_off_the_site(client: TestClient, session: Session) -> None:
    add_staff(session, "li", Role.VIEWER)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login", data={"name": "li", "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert response.headers["location"] == "/"


def test_a_post_form_without_or_with_a_wrong_csrf_token_is_403(client: TestClient, session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    client.get("/login")
    form = {"name": "li", "password": PASSWORD}
    assert client.post("/login", data=form).status_code == 403
    assert client.post("/login", data=form | {"csrf_token": "forged"}).status_code == 403
    assert client.post("/login", data=form | {"csrf_token": "伪造的令牌"}).status_code == 403
    assert session.exec(select(LoginAttempt)).all() == []  # refused before the password was looked at
    assert _log_in(client, "li") == 303
    refused = client.post("/logout", data={})
    assert refused.status_code == 403 and "表单已过期" in refused.text
    assert client.get("/").status_code == 200  # still logged in
    logged_out = client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    assert (logged_out.status_code, logged_out.headers["location"]) == (303, "/login?bye=1")
    assert client.get("/").status_code == 303


def test_a_new_password_logs_out_the_sessions_of_the_old_one(client: TestClient, session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    assert _log_in(client, "li") == 303
    assert client.get("/").status_code == 200
    with transaction(session):
        set_password(session=session, name="li", password="a-new-passphrase-2026")
    assert client.get("/").status_code == 303  # the session of the old password is out
    assert _log_in(client, "li", "a-new-passphrase-2026") == 303
    assert client.get("/").status_code == 200


def test_five_failures_throttle_the_login_with_429_and_a_zh_cn_message(
    client: TestClient, session: Session
) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    for _ in range(5):
        assert _log_in(client, "li", "wrong password") == 400
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "li", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试" in response.text
    assert response.headers["retry-after"] == "900"
    assert [a.succeeded for a in session.exec(select(LoginAttempt)).all()] == [False] * 5  # counted in the DB


def test_a_wrong_password_says_so_in_the_chosen_language(client: TestClient, session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    assert _log_in(client, "li", "wrong password") == 400
    client.get("/login?lang=en")
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "li", "password": "wrong", "csrf_token": token})
    assert "Wrong user name or password." in response.text and '<html lang="en">' in response.text


def test_a_deactivated_user_is_logged_out_at_the_next_request(client: TestClient, session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    assert _log_in(client, "li") == 303
    user = session.exec(select(User)).one()
    user.active = False
    with transaction(session):
        session.add(user)
    assert client.get("/").status_code == 303


def test_the_api_answers_401_without_a_token_or_with_a_wrong_one(
    client: TestClient, session: Session
) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    assert _log_in(client, "li") == 303  # a session cookie is not an API credential
    url = "/api/funnel?from=2021-01-01&to=2021-12-31"
    for headers in ({}, {"Authorization": "Bearer dft_wrong"}, {"Authorization": "Basic bGk6cGFzcw=="}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API 令牌" in response.json()["detail"]


def test_pages_carry_the_security_headers(client: TestClient) -> None:
    headers = client.get("/login").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["cache-control"]) == ("DENY", "no-store")
