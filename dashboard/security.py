"""Who is asking: the signed session of a logged-in page, the bearer token of an API call, their role,
and the CSRF token every POST form carries.

Pages: the session cookie (Starlette's SessionMiddleware: signed with itsdangerous, HttpOnly,
SameSite=Lax) holds the user's id, a digest of the password hash and a CSRF token; the user is read from
the database on every request, so a deactivated user, or one whose password was changed, is out at the
next click. A page without a login answers 303 to /login.
API: `Authorization: Bearer <token>` only, never the cookie (so no CSRF there); 401 otherwise.
CSRF (OWASP CSRF Prevention Cheat Sheet, synchroniser token): a random token per session, a hidden
`csrf_token` field in every POST form, compared in constant time; missing or wrong → 403. Every POST page
route gets the check from its router, so a new form cannot forget it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dashboard.config import DashboardConfig
from models.accounts import Role, User, user_by_id, user_for_token
from models.core import Session

__all__ = [
    "CSRF_FIELD",
    "ApiUser",
    "DbSession",
    "LoginRequired",
    "PageUser",
    "api_user",
    "check_csrf",
    "config_of",
    "csrf_token",
    "db_session",
    "log_in",
    "page_user",
    "require_role",
]

CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """A page was asked for without a valid login: the app answers 303 to /login."""


def config_of(request: Request) -> DashboardConfig:
    config: DashboardConfig = request.app.state.config
    return config


def db_session(request: Request) -> Iterator[Session]:
    with config_of(request).session_factory() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use (the login form's session has no user yet)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    if request.method in _SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(sent, str):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="csrf")
    # As bytes: compare_digest refuses non-ASCII str (a forged "令牌" would be a 500, not a 403).
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="csrf")


def _password_stamp(user: User) -> str:
    """A digest of the user's password hash, kept in the session: a new password (`donorflow users
    password`) changes it, and every session logged in with the old one is out at its next click."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def log_in(request: Request, user: User) -> None:
    """A fresh session for `user`: whatever the anonymous session held (its CSRF token too) is dropped."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["stamp"] = _password_stamp(user)
    csrf_token(request)


def page_user(request: Request, session: DbSession) -> User:
    uid = request.session.get("uid")
    user = user_by_id(session=session, user_id=uid) if isinstance(uid, int) else None
    stamp = request.session.get("stamp")
    if user is not None and not (
        isinstance(stamp, str) and secrets.compare_digest(stamp.encode(), _password_stamp(user).encode())
    ):
        user = None  # the password changed since this session logged in
    if user is None:
        request.session.pop("uid", None)
        request.session.pop("stamp", None)
        raise LoginRequired
    request.state.user = user
    return user


PageUser = Annotated[User, Depends(page_user)]

_bearer = HTTPBearer(auto_error=False, description="An API token from `donorflow users token NAME`.")


def api_user(
    session: DbSession, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    user = user_for_token(session=session, token=credentials.credentials) if credentials else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="需要有效的 API 令牌 a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


ApiUser = Annotated[User, Depends(api_user)]


def require_role(*roles: Role, api: bool = False) -> Callable[..., User]:
    """A dependency that lets only these roles through (403 otherwise), for a page or (api=True) an API
    route: `Depends(require_role(Role.COORDINATOR, Role.ADMIN))`. Viewers read aggregates only."""
    allowed = frozenset(roles)
    if not allowed:
        raise ValueError("require_role needs at least one role")

    def check(user: User) -> User:
        if Role(user.role) not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="role")
        return user

    if api:

        def api_check(user: ApiUser) -> User:
            return check(user)

        return api_check

    def page_check(user: PageUser) -> User:
        return check(user)

    return page_check
