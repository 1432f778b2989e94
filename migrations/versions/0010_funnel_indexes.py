"""Funnel dashboard: indexes on the audit log for the period aggregates

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 05:00:00

Issue 12 item 6: (at, entity, to_state, from_state, case_id) lets a period's funnel be counted from the
index alone; (case_id, to_state, at) finds when a case entered the stage it is leaving (days in stage);
(to_state, at) finds a period's closures (drop-outs). Measured with bench/funnel.py over 1 M cases.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stage_event_at_cover", ["at", "entity", "to_state", "from_state", "case_id"]
        )
        batch_op.create_index("ix_stage_event_case_state", ["case_id", "to_state", "at"])
        batch_op.create_index("ix_stage_event_state_at", ["to_state", "at"])


def downgrade() -> None:
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_event_state_at")
        batch_op.drop_index("ix_stage_event_case_state")
        batch_op.drop_index("ix_stage_event_at_cover")
