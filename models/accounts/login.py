"""Logging in with a name and a password, throttled by failures recorded in the database.

Five failed tries for a name within 15 minutes (OWASP Authentication Cheat Sheet: throttle per account)
lock that name until the oldest of them is 15 minutes old; a successful login clears the name's count.
Per client address the limit is higher (20 by default), against one client guessing across many names:
several coordinators may share an address (one office, one NAT, `make up` on loopback), and one person's
typos must not lock out the others. A refused (throttled) try is not recorded, so a lock ends on time
whatever an attacker keeps sending. Two tries racing in two processes may both pass the check at the
limit: the throttle is about guessing rates, one extra try does not matter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from models.accounts.credentials import hash_password, needs_rehash, verify_password
from models.accounts.tables import NAME_MAX, LoginAttempt, User

__all__ = ["ATTEMPTS_KEPT", "LoginOutcome", "LoginResult", "Throttle", "attempt_login", "failures"]

log = logging.getLogger(__name__)

ATTEMPTS_KEPT = timedelta(days=90)  # login tries are kept this long, then deleted at the next try


@dataclass(frozen=True)
class Throttle:
    max_failures_per_name: int = 5
    max_failures_per_client: int = 20
    window: timedelta = timedelta(minutes=15)


class LoginOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"  # unknown name, wrong password or deactivated user: the same answer for all three
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None


def failures(*, session: Session, name: str | None = None, client: str | None = None, since: datetime) -> int:
    """Failed tries for a name (after its last success) or for a client, from `since` on."""
    query = select(func.count()).select_from(LoginAttempt).where(~col(LoginAttempt.succeeded))
    if name is not None:
        last_ok = session.exec(
            select(func.max(LoginAttempt.at)).where(LoginAttempt.name == name, col(LoginAttempt.succeeded))
        ).one()
        if last_ok is not None:
            query = query.where(col(LoginAttempt.at) > last_ok)
        query = query.where(LoginAttempt.name == name)
    if client is not None:
        query = query.where(LoginAttempt.client == client)
    return session.exec(query.where(col(LoginAttempt.at) >= since)).one()


def _throttled(*, session: Session, name: str, client: str, now: datetime, throttle: Throttle) -> bool:
    since = now - throttle.window
    if failures(session=session, name=name, since=since) >= throttle.max_failures_per_name:
        return True
    return failures(session=session, client=client, since=since) >= throttle.max_failures_per_client


def attempt_login(
    *, session: Session, name: str, password: str, client: str, now: datetime, throttle: Throttle
) -> LoginResult:
    """Check a login and record the try (the caller commits whatever the outcome: a failure must count)."""
    name = name.strip()[:NAME_MAX]
    client = client[:64]
    if _throttled(session=session, name=name, client=client, now=now, throttle=throttle):
        log.warning("login refused: too many failures for this name or client")
        return LoginResult(LoginOutcome.THROTTLED)
    user = session.exec(select(User).where(User.name == name)).first() if name else None
    matches = verify_password(user.password_hash if user is not None else None, password)
    succeeded = bool(matches and user is not None and user.active)
    session.add(LoginAttempt(name=name, client=client, succeeded=succeeded, at=now))
    # Tries older than the retention period go: the throttle looks back 15 minutes, a security review
    # three months; the table must not grow for ever under a guessing client (it names clients).
    session.execute(delete(LoginAttempt).where(col(LoginAttempt.at) < now - ATTEMPTS_KEPT))
    if not succeeded or user is None:
        session.flush()
        return LoginResult(LoginOutcome.FAILED)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    session.add(user)
    session.flush()
    return LoginResult(LoginOutcome.OK, user)
