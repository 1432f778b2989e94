"""Stage events: when the case entered the stage it leaves (days in stage from one row)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 05:45:00

Issue 12's days-in-stage (median, p90) over 1 M cases joined each move out of a stage with the move into
it: 1 s for a year and 11 s for ten on SQLite (bench/funnel.py). The move out now carries the entry
time and the days since (`from_state_since`, `stage_days`, written by models.core.audit_values); the
rows already written get them here from the case's event that entered that stage (a case enters each
stage once: the pipeline only moves forward). Nullable: a case's first row and member rows have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = """
UPDATE stage_event SET from_state_since = (
    SELECT max(entered.at) FROM stage_event AS entered
    WHERE entered.case_id = stage_event.case_id
      AND entered.to_state = stage_event.from_state
      AND entered.at <= stage_event.at
)
WHERE entity = 'case' AND from_state IS NOT NULL
"""


# The days between: julianday on SQLite (timestamps stored as text), epoch seconds on PostgreSQL.
_DAYS = {
    "sqlite": "julianday(at) - julianday(from_state_since)",
    "postgresql": "EXTRACT(EPOCH FROM (at - from_state_since)) / 86400.0",
}


def upgrade() -> None:
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("from_state_since", models.core.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("stage_days", sa.Float(), nullable=True))
    op.execute(sa.text(_BACKFILL))
    days = _DAYS[op.get_bind().dialect.name]
    op.execute(sa.text(f"UPDATE stage_event SET stage_days = {days} WHERE from_state_since IS NOT NULL"))
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.create_index("ix_stage_event_stays", ["at", "from_state", "stage_days"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_event_stays")
        batch_op.drop_column("stage_days")
        batch_op.drop_column("from_state_since")
