"""case grade history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 18:57:37.157826
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_grade",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("of", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("certainty", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("loci", sa.JSON(), nullable=False),
        sa.Column("at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["donor_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_grade", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_grade_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_grade", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_grade_case_id"))

    op.drop_table("case_grade")
