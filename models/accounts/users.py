"""Staff users: add, list, issue an API token, set a password, the first admin. Services never commit."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.accounts.credentials import hash_password, hash_token, new_token
from models.accounts.tables import NAME_MAX, Role, User, UserPublic
from models.core import ConflictError, NotFoundError, ValidationError, utcnow

__all__ = [
    "FIRST_ADMIN",
    "add_user",
    "check_name",
    "coordinator_names",
    "ensure_first_admin",
    "find_user",
    "issue_token",
    "list_users",
    "set_active",
    "set_password",
    "user_by_id",
    "user_for_token",
]

FIRST_ADMIN = "admin"


def check_name(name: str) -> str:
    """A login name as typed, trimmed: 1–64 characters, no spaces or control characters inside."""
    name = name.strip()
    if not name:
        raise ValidationError("用户名为空 the user name is empty")
    if len(name) > NAME_MAX:
        raise ValidationError(f"用户名太长：最多 {NAME_MAX} 个字符 the user name is longer than {NAME_MAX}")
    if any(char.isspace() or unicodedata.category(char).startswith("C") for char in name):
        raise ValidationError("用户名不能包含空格或控制字符 the user name has a space or a control character")
    return name


def find_user(*, session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name.strip())).first()
    if user is None:
        raise NotFoundError(f"没有该用户 no such user: {name.strip()}")
    return user


def add_user(*, session: Session, name: str, role: Role, password: str) -> User:
    name = check_name(name)
    if session.exec(select(User.id).where(User.name == name)).first() is not None:
        raise ConflictError(f"用户已存在 the user already exists: {name}")
    user = User(name=name, role=Role(role).value, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, name: str, password: str) -> User:
    user = find_user(session=session, name=name)
    user.password_hash = hash_password(password)
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return user


def set_active(*, session: Session, name: str, active: bool) -> User:
    """Deactivate (logged out at the next request, token void, no login) or reactivate a user. The last
    active admin is kept: nobody could manage users any more."""
    user = find_user(session=session, name=name)
    if not active and user.active and user.role == Role.ADMIN.value:
        admins = session.exec(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, col(User.active))
        ).one()
        if admins <= 1:
            raise ValidationError(f"不能停用最后一位管理员 {user.name} is the last active admin")
    user.active = active
    if not active:
        user.token_hash = None
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return user


def issue_token(*, session: Session, name: str) -> str:
    """A new API token for `name`, returned once; the user's previous token stops working."""
    user = find_user(session=session, name=name)
    if not user.active:
        raise ValidationError(f"用户已停用 the user is deactivated: {user.name}")
    token = new_token()
    user.token_hash = hash_token(token)
    user.token_issued_at = user.updated_at = utcnow()
    session.add(user)
    session.flush()
    return token


def user_for_token(*, session: Session, token: str) -> User | None:
    """The active user holding this API token, or None."""
    if not token or len(token) > 200:
        return None
    user = session.exec(select(User).where(User.token_hash == hash_token(token))).first()
    return user if user is not None and user.active else None


def user_by_id(*, session: Session, user_id: int) -> User | None:
    """The active user with this id (a signed session's), or None: a deactivated user is logged out."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def list_users(*, session: Session) -> list[UserPublic]:
    return [user.public() for user in session.exec(select(User).order_by(col(User.name))).all()]


def ensure_first_admin(*, session: Session, password: str) -> bool:
    """Create the user `admin` (role admin) when no active admin exists; False if there is one already.

    ConflictError when the name `admin` is taken by a user who is not an active admin (the operator then
    adds an admin under another name with `donorflow users add`).
    """
    admins = session.exec(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, col(User.active))
    ).one()
    if admins:
        return False
    add_user(session=session, name=FIRST_ADMIN, role=Role.ADMIN, password=password)
    return True


def coordinator_names(*, session: Session) -> list[str]:
    """The names a coordinator form offers (issue 12 item 8): active coordinators and admins, sorted, so
    the audit log names each person one way instead of however they typed their name that day."""
    return list(
        session.exec(
            select(User.name)
            .where(col(User.active), col(User.role).in_([Role.COORDINATOR.value, Role.ADMIN.value]))
            .order_by(col(User.name))
        ).all()
    )
