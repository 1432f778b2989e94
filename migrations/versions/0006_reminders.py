"""Reminders: the engine's ledger, coordinators' tasks, follow-up answers, members' availability

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 02:15:00

Issue 11: `reminder` (one row per reminder dealt with: the key makes a run idempotent), `coordinator_task`;
follow-ups gain a status, reminder counts and the donor's answers (with a WMDA S(P)EAR category when
serious); members gain the date of their last availability check and a pause ("not available until").
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_UTC = models.core.db.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _S(length=120), nullable=False),
        sa.Column("kind", _S(length=32), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=True),
        sa.Column("case_id", _S(length=36), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("outcome", _S(length=16), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("at", _UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["donor_case.id"]),
        sa.ForeignKeyConstraint(["donor_id"], ["donor.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_kind_due", ["kind", "due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_donor_id"), ["donor_id"], unique=False)

    op.create_table(
        "coordinator_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _S(length=120), nullable=False),
        sa.Column("kind", _S(length=32), nullable=False),
        sa.Column("case_id", _S(length=36), nullable=True),
        sa.Column("donor_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", _S(length=8), nullable=False),
        sa.Column("opened_at", _UTC(timezone=True), nullable=False),
        sa.Column("closed_at", _UTC(timezone=True), nullable=True),
        sa.Column("closed_by", _S(length=100), nullable=True),
        sa.Column("note", _S(length=500), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["donor_case.id"]),
        sa.ForeignKeyConstraint(["donor_id"], ["donor.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("coordinator_task", schema=None) as batch_op:
        batch_op.create_index("ix_coordinator_task_open", ["status", "due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_coordinator_task_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_coordinator_task_donor_id"), ["donor_id"], unique=False)

    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", _S(length=12), nullable=False, server_default="due"))
        batch_op.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_reminded_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("spear_category", _S(length=32), nullable=True))
        batch_op.add_column(sa.Column("answered_by", _S(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_follow_up_status"), ["status"], unique=False)
    # Follow-ups recorded done before this revision are answered.
    op.execute("UPDATE follow_up SET status = 'answered' WHERE done_at IS NOT NULL")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
        batch_op.alter_column("reminders_sent", server_default=None)

    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("availability_checked_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("paused_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
        batch_op.drop_column("availability_checked_on")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_status"))
        batch_op.drop_column("answered_by")
        batch_op.drop_column("spear_category")
        batch_op.drop_column("answers")
        batch_op.drop_column("last_reminded_on")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("status")
    with op.batch_alter_table("coordinator_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coordinator_task_donor_id"))
        batch_op.drop_index(batch_op.f("ix_coordinator_task_case_id"))
        batch_op.drop_index("ix_coordinator_task_open")
    op.drop_table("coordinator_task")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_donor_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_case_id"))
        batch_op.drop_index("ix_reminder_kind_due")
    op.drop_table("reminder")
