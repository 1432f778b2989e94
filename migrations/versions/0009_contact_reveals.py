"""Contact reveals: who saw a member's contact details, when, for which case and why

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:00:00

Issue 12 item 4: `contact_reveal` (user, the user's name, member, case, reason from a short list, a
note; append-only), indexed by user, member and time (the admins' list, latest first). The revealed
values are never stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_UTC = models.core.db.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "contact_reveal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("actor", _S(length=100), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("case_id", _S(length=36), nullable=True),
        sa.Column("reason", _S(length=32), nullable=False),
        sa.Column("note", _S(length=200), nullable=True),
        sa.Column("at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["donor_id"], ["donor.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["donor_case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact_reveal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_reveal_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_reveal_donor_id"), ["donor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_reveal_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact_reveal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_reveal_at"))
        batch_op.drop_index(batch_op.f("ix_contact_reveal_donor_id"))
        batch_op.drop_index(batch_op.f("ix_contact_reveal_user_id"))
    op.drop_table("contact_reveal")
