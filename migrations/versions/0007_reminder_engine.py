"""Reminder engine: members' next availability check date, and the indexes of the daily scans

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 03:00:00

Issue 11: `donor.availability_due_on` (the engine sets it when it first sees a member, then 2 years after
each check); indexes (status, availability_due_on) and (status, birth_date) on members, (status, due_on)
and (status, last_reminded_on) on follow-ups, so a quiet day's scan reads a few index entries
(bench/reminders.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("availability_due_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_donor_status_availability_due", ["status", "availability_due_on"])
        batch_op.create_index("ix_donor_status_birth_date", ["status", "birth_date"])
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_status_due", ["status", "due_on"])
        batch_op.create_index("ix_follow_up_status_reminded", ["status", "last_reminded_on"])


def downgrade() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_status_reminded")
        batch_op.drop_index("ix_follow_up_status_due")
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.drop_index("ix_donor_status_birth_date")
        batch_op.drop_index("ix_donor_status_availability_due")
        batch_op.drop_column("availability_due_on")
