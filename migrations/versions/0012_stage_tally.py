"""The audit log's running tallies for the funnel dashboard, kept by triggers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:00:00

Issue 12's target (each funnel query < 500 ms over 1 M cases) was missed on SQLite by scanning the audit
log: 1.3 s (funnel), 2.9 s (drop-outs), 5.5 s (days in stage) over ten years (bench/funnel.py).
`stage_day_count` and `stage_stay_count` (models/core/tally.py) hold the sums; a trigger on `stage_event`
adds each new row to them in the writer's transaction; the rows already written are summed here.

Two writers adding to the same tally rows wait for each other's commit (on SQLite they wait anyway: one
writer at a time). On PostgreSQL two transactions taking two rows' locks in opposite orders deadlock; the
server rolls one back within a second and `transaction()` raises BusyError ("try again"), which the
sheet imports retry by themselves.

A later migration that rebuilds `stage_event` on SQLite (alembic's batch mode copies the table) drops its
triggers: such a migration must create them again (`create_triggers` below).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The close reason of a case's `closed` row: close_case writes the reason value first ("declined" or
# "declined: <note>"); '' for every other row. Cut to the column, so free text cannot widen the key.
_REASON = {
    "sqlite": (
        "CASE WHEN {r}.entity = 'case' AND {r}.to_state = 'closed' AND {r}.reason IS NOT NULL THEN "
        "substr(CASE WHEN instr({r}.reason, ':') > 0 THEN substr({r}.reason, 1, instr({r}.reason, ':') - 1) "
        "ELSE {r}.reason END, 1, 20) ELSE '' END"
    ),
    "postgresql": (
        "CASE WHEN {r}.entity = 'case' AND {r}.to_state = 'closed' AND {r}.reason IS NOT NULL THEN "
        "left(split_part({r}.reason, ':', 1), 20) ELSE '' END"
    ),
}
# The Shanghai day and month of `at` (stored in UTC); tenths of a day as stage_durations rounds them.
_DAY = {
    "sqlite": "date({r}.at, '+8 hours')",
    "postgresql": "({r}.at AT TIME ZONE 'Asia/Shanghai')::date",
}
_MONTH = {
    "sqlite": "date({r}.at, '+8 hours', 'start of month')",
    "postgresql": "date_trunc('month', {r}.at AT TIME ZONE 'Asia/Shanghai')::date",
}
_TENTHS = {
    "sqlite": "CAST(round({r}.stage_days * 10) AS INTEGER)",
    "postgresql": "round({r}.stage_days * 10)::integer",
}
_IS_STAY = "{r}.entity = 'case' AND {r}.from_state IS NOT NULL AND {r}.stage_days IS NOT NULL"


def _sums(dialect: str, source: str | None = None) -> tuple[str, str]:
    """The two INSERT … SELECT … ON CONFLICT statements adding rows to the tallies: every row of the table
    `source` (the migration's sum of what is already written), or, with no source, the one new row NEW (a
    trigger's body). Each SELECT has a WHERE (SQLite's parser would otherwise read ON CONFLICT as part of
    a join)."""
    r = "e" if source else "NEW"
    count, rows = ("count(*)", f" FROM {source} AS {r}") if source else ("1", "")
    day_keys, stay_keys = (" GROUP BY 1, 2, 3, 4, 5", " GROUP BY 1, 2, 3") if source else ("", "")
    day = (
        "INSERT INTO stage_day_count (day, entity, to_state, from_state, reason, n) "
        f"SELECT {_DAY[dialect].format(r=r)}, {r}.entity, {r}.to_state, coalesce({r}.from_state, ''), "
        f"{_REASON[dialect].format(r=r)}, {count}{rows} WHERE true{day_keys} "
        "ON CONFLICT (day, entity, to_state, from_state, reason) "
        "DO UPDATE SET n = stage_day_count.n + excluded.n"
    )
    stay = (
        "INSERT INTO stage_stay_count (month, stage, tenths, n) "
        f"SELECT {_MONTH[dialect].format(r=r)}, {r}.from_state, {_TENTHS[dialect].format(r=r)}, "
        f"{count}{rows} "
        f"WHERE {_IS_STAY.format(r=r)}{stay_keys} "
        "ON CONFLICT (month, stage, tenths) DO UPDATE SET n = stage_stay_count.n + excluded.n"
    )
    return day, stay


def create_triggers(dialect: str) -> None:
    """Per row on both databases: every bulk insert runs one statement a row anyway (psycopg's pipelined
    executemany), where a per-statement trigger cost 146 µs a row against 78 µs (20,000 rows, 2 cores)."""
    day, stay = _sums(dialect)
    if dialect == "sqlite":
        op.execute(
            sa.text(f"CREATE TRIGGER stage_event_tally AFTER INSERT ON stage_event BEGIN {day}; {stay}; END")
        )
        return
    op.execute(
        sa.text(
            "CREATE FUNCTION stage_event_tally() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{day}; {stay}; RETURN NULL; END $$"
        )
    )
    op.execute(
        sa.text(
            "CREATE TRIGGER stage_event_tally AFTER INSERT ON stage_event "
            "FOR EACH ROW EXECUTE FUNCTION stage_event_tally()"
        )
    )


def upgrade() -> None:
    op.create_table(
        "stage_day_count",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("entity", sa.String(length=8), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "entity", "to_state", "from_state", "reason"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stage_stay_count",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("tenths", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "stage", "tenths"),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in _sums(dialect, "stage_event"):  # the rows already written
        op.execute(sa.text(statement))
    create_triggers(dialect)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS stage_event_tally ON stage_event"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS stage_event_tally()"))
    else:
        op.execute(sa.text("DROP TRIGGER IF EXISTS stage_event_tally"))
    op.drop_table("stage_stay_count")
    op.drop_table("stage_day_count")
