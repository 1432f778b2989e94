"""The dashboard's accounts (issue 12): staff users with a role, and the login attempts that throttle
guessing. No donor data here; a user's name is a staff login name, not a member's.

A password is kept only as its argon2id hash, an API token only as its SHA-256 (the token itself is
shown once, when it is issued). Login attempts live in the database, not in a process, so the throttle
holds across dashboard processes and restarts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.core import UtcDateTime, utcnow

__all__ = ["LoginAttempt", "Role", "User", "UserPublic"]

NAME_MAX = 64


class Role(StrEnum):
    """Viewers read aggregates only; coordinators work cases; admins also manage users (issue 12)."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    VIEWER = "viewer"


class UserPublic(SQLModel):
    """What a listing shows: never a hash."""

    name: str
    role: Role
    active: bool
    has_token: bool
    created_at: datetime
    last_login_at: datetime | None


class User(SQLModel, table=True):
    # "user" is a reserved word in PostgreSQL.
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=NAME_MAX)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    # SHA-256 hex of the API token: a stolen database does not hand out working tokens.
    token_hash: str | None = Field(default=None, unique=True, max_length=64)
    token_issued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

    def public(self) -> UserPublic:
        return UserPublic(
            name=self.name,
            role=Role(self.role),
            active=self.active,
            has_token=self.token_hash is not None,
            created_at=self.created_at,
            last_login_at=self.last_login_at,
        )


class LoginAttempt(SQLModel, table=True):
    """One try at the login form: the name typed and the client address, never the password."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_name_at", "name", "at"),
        Index("ix_login_attempt_client_at", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX)
    client: str = Field(max_length=64)
    succeeded: bool
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
