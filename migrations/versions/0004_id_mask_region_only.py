"""ID masks keep the region code at most; withdrawn members keep no mask

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 19:05:00

The old mask `4101**********123X` kept the ID's sequence and check digit: with the stored birth date and
the salt it left ~10 candidates (issue 8, item 2). New masks keep the 6-digit region code only
(models.core.masking.mask_national_id); an old mask never held digits 5-6, so it becomes its first four digits
and stars (`4101**************`), and a re-joining member gets the full region again from the new sheet.
Withdrawn members lose the mask altogether, as models.registry.members.erase_withdrawn now does.

Downgrade changes no data: the dropped digits are gone on purpose, and the old code reads any mask.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STARS = "*" * 24  # Donor.national_id_masked is at most 24 characters


def upgrade() -> None:
    # An old-form mask ends with the ID's last four characters; a new one (or an emptied one) never does.
    # substr, length and || mean the same on SQLite and PostgreSQL.
    op.execute(
        sa.text(
            "UPDATE donor SET national_id_masked = "
            "substr(national_id_masked, 1, 4) || substr(:stars, 1, length(national_id_masked) - 4) "
            "WHERE length(national_id_masked) >= 8 "
            "AND substr(national_id_masked, length(national_id_masked), 1) <> '*'"
        ).bindparams(stars=_STARS)
    )
    op.execute(sa.text("UPDATE donor SET national_id_masked = '' WHERE status = 'withdrawn'"))


def downgrade() -> None:
    """Nothing to restore: see the module docstring."""
