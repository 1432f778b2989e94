"""Accounts: the dashboard's staff users and the login attempts that throttle guessing

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 05:00:00

Issue 12: `app_user` (name unique, role admin | coordinator | viewer, argon2id password hash, SHA-256 of
the API token, active flag) and `login_attempt` (name, client, succeeded, at; indexed by name and by
client with the time: the two throttle counts).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_UTC = models.core.db.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _S(length=64), nullable=False),
        sa.Column("role", _S(length=16), nullable=False),
        sa.Column("password_hash", _S(length=255), nullable=False),
        sa.Column("token_hash", _S(length=64), nullable=True),
        sa.Column("token_issued_at", _UTC(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("updated_at", _UTC(timezone=True), nullable=False),
        sa.Column("last_login_at", _UTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _S(length=64), nullable=False),
        sa.Column("client", _S(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("at", _UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_name_at", ["name", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_client_at", ["client", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_client_at")
        batch_op.drop_index("ix_login_attempt_name_at")
    op.drop_table("login_attempt")
    op.drop_table("app_user")
