"""Case grades: the grader's details beside the score (nulls, WMDA level, DPB1 permissiveness)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 12:00:00

Issue 13 items 4–7: the grader says per position which null alleles are involved, the WMDA level and
ATLAS confidence that decided, at which loci the patient is untyped and whether a DPB1 mismatch is
permissive; a case's grade kept only the score. `details` holds those (grades only, no typing).
Nullable: grades written before this revision have none, and nothing can recompute them as they were
(the typings and tables may have changed since), so they stay NULL and the case page shows "—".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_grade", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_grade", schema=None) as batch_op:
        batch_op.drop_column("details")
