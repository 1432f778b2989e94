"""The outbox delivers: kinds (message, event), claims, audit copy; members' channel preferences

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 22:00:00

Issue 10: the dispatcher claims due rows (claimed_by/claimed_until: a lease a killed dispatcher's
successor takes over), keeps the text it sent (`rendered`), and the same table carries the pipeline's
Prefect events (`kind="event"`). `channel` becomes optional: None means "the member's preferred channel,
then the fallbacks", chosen at send time. Members gain a preferred channel, a WeChat openid and a WeChat
opt-out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default="message"
            )
        )
        batch_op.alter_column(
            "channel",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=True,
        )
        batch_op.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_until", models.core.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rendered", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("address_snapshot", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("kind", server_default=None)

    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opt_out_wechat", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "preferred_channel",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="sms",
            )
        )
        batch_op.add_column(
            sa.Column("wechat_openid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.alter_column("opt_out_wechat", server_default=None)
        batch_op.alter_column("preferred_channel", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.drop_column("wechat_openid")
        batch_op.drop_column("preferred_channel")
        batch_op.drop_column("opt_out_wechat")
    # Rows that chose their channel at send time get the old default back before it is required again.
    op.execute("UPDATE outbox SET channel = 'sms' WHERE channel IS NULL")
    op.execute("DELETE FROM outbox WHERE kind = 'event'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_column("address_snapshot")
        batch_op.drop_column("rendered")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.alter_column(
            "channel",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
            type_=sqlmodel.sql.sqltypes.AutoString(length=10),
            nullable=False,
        )
        batch_op.drop_column("kind")
