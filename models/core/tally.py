"""The audit log's running tallies: counts the funnel dashboard reads instead of scanning the log.

Over 1 M cases (2.3 M audit rows) a ten-year funnel scanned 2.3 M index entries on SQLite: 1.3 s for the
counts, 2.9 s for drop-outs, 5.5 s for days in stage (bench/funnel.py, issue 12's target is 500 ms). The
tallies hold the same numbers already summed:

- `stage_day_count`: audit rows per Asia/Shanghai day, entity, from-state, to-state and close reason
  (a case's closure; '' otherwise): the funnel, drop-outs and availability of any whole-day period.
- `stage_stay_count`: a case's moves out of a stage per Shanghai month, stage and tenth of a day spent
  in it (`round(stage_days * 10)`, the histogram `stage_durations` reads its percentiles from). By month,
  not day, so ten years stay a few hundred thousand rows; a period's partial first and last months are
  read from the audit log itself.

Database triggers on `stage_event` keep them, in the transaction that writes the audit row (migration
0012): every writer is counted, ORM or bulk insert, and nothing else has to remember to. The audit log is
never updated or deleted, so the tallies only ever add. Nothing personal is in them: states, days, counts.

The price: a writer holds the tally rows it added to until it commits, so two transactions moving cases
to the same stage on the same day take turns at their commit; on PostgreSQL two that take two rows in
opposite orders deadlock, the server rolls one back within a second, and `transaction()` says so as
BusyError ("nothing saved, try again"; the sheet imports retry by themselves). Each audit row costs the
trigger about 30 µs on SQLite and 80 µs on PostgreSQL (bench/funnel.py prints it).

Shanghai days in SQLite's trigger are UTC+8 (SQLite has no time-zone data): China has kept UTC+8 all
year since 1991, before any record of the China Marrow Donor Program (1992). PostgreSQL uses the zone.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

__all__ = ["StageDayCount", "StageStayCount"]


class StageDayCount(SQLModel, table=True):
    """Audit rows of one Shanghai day with one (entity, from, to, close reason): maintained by trigger."""

    __tablename__ = "stage_day_count"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the table's order: a period is one range

    day: date = Field(primary_key=True)
    entity: str = Field(primary_key=True, max_length=8)
    to_state: str = Field(primary_key=True, max_length=20)
    from_state: str = Field(primary_key=True, max_length=20)  # '' for a first row (no from-state)
    reason: str = Field(primary_key=True, max_length=20)  # a case closure's reason value; '' otherwise
    n: int


class StageStayCount(SQLModel, table=True):
    """Moves out of `stage` in one Shanghai month after `tenths` tenths of a day: maintained by trigger."""

    __tablename__ = "stage_stay_count"
    __table_args__ = {"sqlite_with_rowid": False}

    month: date = Field(primary_key=True)  # the month's first day
    stage: str = Field(primary_key=True, max_length=20)
    tenths: int = Field(primary_key=True)
    n: int
