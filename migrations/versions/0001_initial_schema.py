"""create the registry, cases, blood and outbox tables

Revision ID: 0001
Revises:
Create Date: 2026-11-29 18:23:20.941362
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.core.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("recipient_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("template_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("provider_message_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", models.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)

    op.create_table(
        "patient_search",
        sa.Column("centre", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("diagnosis", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("urgency", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("patient_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=True),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_code"),
    )
    op.create_table(
        "recruitment_event",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("organiser", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "registry_code_counter",
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    op.create_table(
        "donor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("sex", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("national_id_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("national_id_masked", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("blood_group", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("consent_at", models.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", models.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_until", sa.Date(), nullable=True),
        sa.Column("opt_out_sms", sa.Boolean(), nullable=False),
        sa.Column("opt_out_email", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["recruitment_event.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("national_id_hash"),
    )
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_donor_code"), ["code"], unique=True)
        batch_op.create_index(batch_op.f("ix_donor_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_donor_status"), ["status"], unique=False)

    op.create_table(
        "blood_donation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("donated_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("volume_ml", sa.Integer(), nullable=True),
        sa.Column("therapeutic_doses", sa.Integer(), nullable=True),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donor.id"],
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["recruitment_event.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("blood_donation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blood_donation_donor_id"), ["donor_id"], unique=False)

    op.create_table(
        "deferral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("voided_at", models.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donor.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deferral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deferral_donor_id"), ["donor_id"], unique=False)

    op.create_table(
        "donor_case",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("search_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage_entered_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", models.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donor.id"],
        ),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["patient_search.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("search_id", "donor_id", name="uq_case_search_donor"),
    )
    with op.batch_alter_table("donor_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_donor_case_donor_id"), ["donor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_donor_case_search_id"), ["search_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_donor_case_stage"), ["stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_donor_case_status"), ["status"], unique=False)

    op.create_table(
        "hla_typing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=True),
        sa.Column("search_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("resolution", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("a_1", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("a_2", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("b_1", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("b_2", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("c_1", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("c_2", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("drb1_1", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("drb1_2", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("dqb1_1", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("dqb1_2", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("dpb1_1", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("dpb1_2", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("lab", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("sampled_on", sa.Date(), nullable=True),
        sa.Column("created_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donor.id"],
        ),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["patient_search.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("search_id", name="uq_hla_typing_search"),
    )
    with op.batch_alter_table("hla_typing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hla_typing_donor_id"), ["donor_id"], unique=False)

    op.create_table(
        "stage_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", models.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("flow_run_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["donor_case.id"],
        ),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donor.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_stage_event_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stage_event_donor_id"), ["donor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stage_event_to_state"), ["to_state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stage_event_to_state"))
        batch_op.drop_index(batch_op.f("ix_stage_event_donor_id"))
        batch_op.drop_index(batch_op.f("ix_stage_event_case_id"))
        batch_op.drop_index(batch_op.f("ix_stage_event_at"))

    op.drop_table("stage_event")
    with op.batch_alter_table("hla_typing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hla_typing_donor_id"))

    op.drop_table("hla_typing")
    with op.batch_alter_table("donor_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_donor_case_status"))
        batch_op.drop_index(batch_op.f("ix_donor_case_stage"))
        batch_op.drop_index(batch_op.f("ix_donor_case_search_id"))
        batch_op.drop_index(batch_op.f("ix_donor_case_donor_id"))

    op.drop_table("donor_case")
    with op.batch_alter_table("deferral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deferral_donor_id"))

    op.drop_table("deferral")
    with op.batch_alter_table("blood_donation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blood_donation_donor_id"))

    op.drop_table("blood_donation")
    with op.batch_alter_table("donor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_donor_status"))
        batch_op.drop_index(batch_op.f("ix_donor_event_id"))
        batch_op.drop_index(batch_op.f("ix_donor_code"))

    op.drop_table("donor")
    op.drop_table("registry_code_counter")
    op.drop_table("recruitment_event")
    op.drop_table("patient_search")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_next_attempt_at"))

    op.drop_table("outbox")
