"""The reminder engine's daily scan over a large registry: 1 M members and 100 k open follow-ups (issue 11),
against a naive scan that loads every member and follow-up and decides in Python, in the same run.

    .venv/bin/python bench/reminders.py [--members 1000000] [--follow-ups 100000]
        [--database sqlite|postgresql]

The fill is bulk-inserted (Core executemany, like bench/dispatch.py): members born 1971–2008 (a few reach
55 on any day), consented 2015–2026, each with an availability check due within the next 2 years (so
~1/730 of them are due on the day), 1 % withdrawn; open follow-ups of ~7,100 donations spread over 10
years. Measured: `plan` (the dry run: every scan, nothing written), then `run` (the same day, writing its
messages, tasks and ledger rows), then a quiet day's `run` (nothing due: the probe only). Target: the scan
< 1 s. With --database postgresql the plans of the main queries are printed (EXPLAIN): index scans.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.cases import DonorCase, FollowUp, PatientSearch, follow_up_dates  # noqa: E402
from models.cases.follow_ups import add_months  # noqa: E402
from models.core import make_engine  # noqa: E402
from models.registry import Donor  # noqa: E402
from models.reminders import ReminderConfig, plan, run  # noqa: E402
from tests.databases import fresh_database  # noqa: E402

DAY = date(2026, 12, 1)
CHUNK = 20_000
# The oldest member reaches 55 in the week before DAY: some retire on the day, none are left over.
FIRST_BIRTH = add_months(DAY, -12 * 55) - timedelta(days=6)


def fill(engine: Engine, members: int, follow_ups: int) -> None:
    rng = random.Random(11)
    started = time.perf_counter()
    with engine.begin() as connection:
        rows = []
        for n in range(1, members + 1):
            consent = datetime(2015, 1, 1, 2, tzinfo=UTC) + timedelta(days=rng.randrange(0, 4300))
            rows.append(
                {
                    "id": n,
                    "code": f"BB{n:09d}",
                    "national_id_hash": f"h{n}",
                    "national_id_masked": "410***",
                    "birth_date": FIRST_BIRTH + timedelta(days=rng.randrange(0, 37 * 365)),
                    "status": "withdrawn" if n % 100 == 0 else "active",
                    "consent_at": consent,
                    "availability_due_on": DAY + timedelta(days=rng.randrange(0, 730)),
                    "language": "zh-CN",
                    "preferred_channel": "sms",
                    "opt_out_sms": False,
                    "opt_out_email": False,
                    "opt_out_wechat": False,
                    "version": 1,
                    "created_at": consent,
                    "updated_at": consent,
                }
            )
            if len(rows) == CHUNK:
                connection.execute(insert(Donor.__table__), rows)  # type: ignore[attr-defined]
                rows = []
        if rows:
            connection.execute(insert(Donor.__table__), rows)  # type: ignore[attr-defined]
        now = datetime(2026, 1, 1, tzinfo=UTC)
        connection.execute(
            insert(PatientSearch.__table__),  # type: ignore[attr-defined]
            [{"id": "bench-search", "patient_code": "P-BENCH", "centre": "bench", "urgency": "routine",
              "status": "open", "created_at": now}],
        )  # fmt: skip
        cases, fus = [], []
        donations = follow_ups // 14
        for n in range(donations):
            case_id = f"bench-case-{n:08d}"
            donor_id = 1 + n * (members // max(donations, 1))
            donated = DAY - timedelta(days=rng.randrange(0, 3650))
            cases.append(
                {"id": case_id, "search_id": "bench-search", "donor_id": donor_id, "stage": "follow_up",
                 "status": "active", "version": 1, "stage_entered_at": now, "opened_at": now,
                 "updated_at": now}
            )  # fmt: skip
            for label, due_on in follow_up_dates(donated):
                # Open ones: those not yet due, and a few reminded recently (awaiting an answer).
                status = (
                    "due"
                    if due_on > DAY
                    else ("reminded" if due_on > DAY - timedelta(days=40) else "answered")
                )
                fus.append(
                    {"case_id": case_id, "donor_id": donor_id, "label": label, "due_on": due_on,
                     "status": status, "reminders_sent": 1 if status != "due" else 0,
                     "last_reminded_on": due_on if status != "due" else None}
                )  # fmt: skip
        connection.execute(insert(DonorCase.__table__), cases)  # type: ignore[attr-defined]
        for start in range(0, len(fus), CHUNK):
            connection.execute(insert(FollowUp.__table__), fus[start : start + CHUNK])  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    print(f"fill: {members:,} members, {len(fus):,} follow-ups in {time.perf_counter() - started:.1f} s")


def naive(engine: Engine, config: ReminderConfig) -> tuple[float, int]:
    """Load every member and every follow-up, decide in Python (what a scan without indexes does)."""
    started = time.perf_counter()
    due = 0
    start = config.window_start(DAY)
    with Session(engine) as session:
        for member in session.execute(select(Donor)).scalars():
            if (
                member.status == "active"
                and member.availability_due_on
                and start <= member.availability_due_on <= DAY
            ):
                due += 1
            if member.birth_date and member.status != "retired":
                if start <= add_months(member.birth_date, 12 * config.age_limit) <= DAY:
                    due += 1
        for follow_up in session.execute(select(FollowUp)).scalars():
            if follow_up.status == "due" and start <= follow_up.due_on <= DAY:
                due += 1
    return time.perf_counter() - started, due


def explain(engine: Engine, config: ReminderConfig) -> None:
    later = DAY - timedelta(days=config.answer_days)
    latest_birth = add_months(DAY, -12 * config.age_limit) + timedelta(days=1)
    # The id scans the engine runs first (models.reminders: `_batches`); the rows are then read by id.
    queries = {
        "follow-ups due": (f"SELECT id FROM follow_up WHERE status = 'due' AND due_on <= '{DAY}'"),
        "follow-ups unanswered": (
            f"SELECT id FROM follow_up WHERE status = 'reminded' AND last_reminded_on <= '{later}'"
        ),
        "availability due": (
            f"SELECT id FROM donor WHERE status = 'active' AND availability_due_on <= '{DAY}'"
        ),
        "age-out": (
            "SELECT id FROM donor WHERE status IN ('registered', 'active', 'deferred') "
            f"AND birth_date <= '{latest_birth}'"
        ),
    }
    with engine.connect() as connection:
        for name, sql in queries.items():
            plan_text = "\n    ".join(row[0] for row in connection.execute(text(f"EXPLAIN {sql}")))
            print(f"EXPLAIN {name}:\n    {plan_text}")


def timed(label: str, action: object) -> float:
    started = time.perf_counter()
    result = action()  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed * 1000:.0f} ms  {result}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--follow-ups", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    config = ReminderConfig()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database, Path(tmp)) as url:
        engine = make_engine(url)
        fill(engine, args.members, args.follow_ups)
        with Session(engine) as session:
            timed(f"scan (plan, dry run) {DAY}", lambda: plan(session, DAY, config).as_dict())
        elapsed, due = naive(engine, config)
        print(f"naive load-everything scan: {elapsed * 1000:.0f} ms ({due:,} due)")
        timed(f"run {DAY}", lambda: run(lambda: Session(engine), DAY, config).as_dict())
        timed(f"run {DAY} again (nothing new)", lambda: run(lambda: Session(engine), DAY, config).as_dict())
        quiet = DAY + timedelta(days=1)
        timed(f"plan {quiet}", lambda: plan(Session(engine), quiet, config).as_dict())
        if args.database == "postgresql":
            explain(engine, config)
        engine.dispose()


if __name__ == "__main__":
    main()
