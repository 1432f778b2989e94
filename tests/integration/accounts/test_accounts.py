"""Staff accounts on both databases: hashed secrets only, one live API token, the login throttle counted
in the database, the first admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from models.accounts import (
    LoginAttempt,
    LoginOutcome,
    Role,
    Throttle,
    User,
    add_user,
    attempt_login,
    ensure_first_admin,
    issue_token,
    user_for_token,
)
from models.core import ConflictError, ValidationError, transaction
from tests.dashboard_support import PASSWORD, add_staff

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)
THROTTLE = Throttle(max_failures_per_name=5, max_failures_per_client=8, window=timedelta(minutes=15))


def _login(
    session: Session, name: str, password: str, *, client: str = "10.0.0.1", at: datetime = NOW
) -> str:
    with transaction(session):
        return attempt_login(
            session=session, name=name, password=password, client=client, now=at, throttle=THROTTLE
        ).outcome.value


def test_the_password_is_stored_only_as_an_argon2id_hash(session: Session) -> None:
    add_staff(session, "李老师", Role.COORDINATOR)
    rows = session.execute(text("SELECT * FROM app_user")).mappings().all()
    assert len(rows) == 1
    assert not any(PASSWORD in str(value) for value in rows[0].values())
    assert str(rows[0]["password_hash"]).startswith("$argon2id$")
    assert _login(session, "李老师", PASSWORD) == LoginOutcome.OK


def test_a_taken_name_a_short_password_and_a_blank_name_are_refused(session: Session) -> None:
    add_staff(session, "li", Role.VIEWER)
    with pytest.raises(ConflictError, match="用户已存在"):
        add_user(session=session, name=" li ", role=Role.ADMIN, password=PASSWORD)
    with pytest.raises(ValidationError, match="密码太短"):
        add_user(session=session, name="wang", role=Role.ADMIN, password="short")
    with pytest.raises(ValidationError, match="用户名"):
        add_user(session=session, name="two words", role=Role.ADMIN, password=PASSWORD)


def test_only_the_latest_api_token_works_and_only_its_hash_is_stored(session: Session) -> None:
    add_staff(session, "api", Role.VIEWER)
    with transaction(session):
        first = issue_token(session=session, name="api")
    with transaction(session):
        second = issue_token(session=session, name="api")
    stored = session.exec(select(User.token_hash)).one()
    assert stored not in (first, second) and first not in str(stored) and second not in str(stored)
    assert user_for_token(session=session, token=first) is None
    found = user_for_token(session=session, token=second)
    assert found is not None and found.name == "api"
    found.active = False
    with transaction(session):
        session.add(found)
    assert user_for_token(session=session, token=second) is None


def test_five_failures_lock_the_name_even_for_the_right_password_until_the_window_passes(
    session: Session,
) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    for minute in range(5):
        assert _login(session, "li", "wrong password", at=NOW + timedelta(minutes=minute)) == "failed"
    assert _login(session, "li", PASSWORD, at=NOW + timedelta(minutes=5)) == "throttled"
    assert _login(session, "li", PASSWORD, client="10.9.9.9", at=NOW + timedelta(minutes=5)) == "throttled"
    # The refused tries were not recorded: the lock ends 15 minutes after the first failure.
    assert len(session.exec(select(LoginAttempt)).all()) == 5
    assert _login(session, "li", PASSWORD, at=NOW + timedelta(minutes=15, seconds=1)) == "ok"


def test_a_success_clears_the_name_count(session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    for _ in range(4):
        assert _login(session, "li", "wrong password") == "failed"
    assert _login(session, "li", PASSWORD) == "ok"
    later = NOW + timedelta(seconds=1)  # from another address: this client's own count is not the point
    for _ in range(4):
        assert _login(session, "li", "wrong password", client="10.0.0.2", at=later) == "failed"
    assert _login(session, "li", PASSWORD, client="10.0.0.2", at=later) == "ok"


def test_tries_older_than_ninety_days_are_deleted_at_the_next_try(session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    for days in (200, 91, 89):
        _login(session, "li", "wrong password", at=NOW - timedelta(days=days))
    assert _login(session, "li", PASSWORD) == "ok"
    kept = sorted(a.at for a in session.exec(select(LoginAttempt)).all())
    assert kept == [NOW - timedelta(days=89), NOW]


def test_one_client_guessing_across_names_is_locked_at_its_own_limit(session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    for n in range(8):  # eight names, one failure each: no name is locked
        assert _login(session, f"guess{n}", "wrong password") == "failed"
    assert _login(session, "li", PASSWORD) == "throttled"
    assert _login(session, "li", PASSWORD, client="10.0.0.2") == "ok"


def test_unknown_names_and_deactivated_users_fail_like_a_wrong_password(session: Session) -> None:
    add_staff(session, "li", Role.COORDINATOR)
    user = session.exec(select(User)).one()
    user.active = False
    with transaction(session):
        session.add(user)
    assert _login(session, "li", PASSWORD) == "failed"
    assert _login(session, "nobody", PASSWORD) == "failed"
    assert [a.succeeded for a in session.exec(select(LoginAttempt)).all()] == [False, False]


def test_the_first_admin_is_made_once_and_never_beside_an_active_admin(session: Session) -> None:
    with transaction(session):
        assert ensure_first_admin(session=session, password=PASSWORD) is True
    with transaction(session):
        assert ensure_first_admin(session=session, password="another password") is False
    admin = session.exec(select(User)).one()
    assert (admin.name, admin.role) == ("admin", "admin")
    admin.active = False
    with transaction(session):
        session.add(admin)
    with pytest.raises(ConflictError):  # `admin` is taken by a deactivated user: the operator decides
        ensure_first_admin(session=session, password=PASSWORD)
