"""Sign-up import throughput: the full service (read, validate, dedupe, upsert, audit) against a raw
`executemany` of the same rows into a bare table, both measured in this run on the same machine.

    .venv/bin/python bench/import_signups.py [--rows 2358] [--repeat 3] [--database-url URL]

Target (issue 3): the seed year's 2,358-row sheet imports in < 10 s on SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, create_engine, insert
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from donorflow.demo import signup_rows, write_signup_csv  # noqa: E402
from models.db import make_engine  # noqa: E402
from models.signup_import import ImportPolicy, import_signups  # noqa: E402
from tests.databases import empty_all_tables, fresh_database  # noqa: E402


def time_service(url: str, sheet: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Fresh import (every row created) and the rerun (every row unchanged), `repeat` times each."""
    engine = make_engine(url)
    fresh: list[float] = []
    rerun: list[float] = []
    for _ in range(repeat):
        empty_all_tables(engine)
        for runs in (fresh, rerun):
            with Session(engine) as session:
                started = time.perf_counter()
                report = import_signups(session=session, path=sheet, policy=ImportPolicy(id_salt=b"bench"))
                runs.append(time.perf_counter() - started)
            assert not report.rejected, report.rejected[:3]
    engine.dispose()
    return fresh, rerun


def time_baseline(url: str, rows: list[dict[str, object]], repeat: int) -> list[float]:
    """The floor: one executemany of already-parsed rows into a table with no indexes or checks."""
    engine = create_engine(url)
    metadata = MetaData()
    table = Table(
        "bench_raw_donor",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(64)),
        Column("sex", String(1)),
        Column("birth_date", Date),
        Column("national_id", String(18)),
        Column("phone", String(20)),
        Column("email", String(254)),
        Column("blood_group", String(4)),
        Column("consent_at", DateTime),
    )
    times = []
    for _ in range(repeat):
        metadata.drop_all(engine)
        metadata.create_all(engine)
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(insert(table), rows)
        times.append(time.perf_counter() - started)
    metadata.drop_all(engine)
    engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2358)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()

    people = list(signup_rows(args.rows, seed=2021))
    raw = [
        {
            "name": p.name,
            "sex": p.sex,
            "birth_date": p.birth_date,
            "national_id": p.national_id,
            "phone": p.phone,
            "email": p.email,
            "blood_group": p.blood_group,
            "consent_at": p.consent_at,
        }
        for p in people
    ]
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database, Path(tmp)) as url:
        sheet = write_signup_csv(Path(tmp) / "signups.csv", people)
        fresh, rerun = time_service(url, sheet, args.repeat)
        baseline = time_baseline(url, raw, args.repeat)
    median_fresh, median_rerun, median_base = (statistics.median(t) for t in (fresh, rerun, baseline))
    print(f"sign-up import, {args.rows} rows, {args.database}, median of {args.repeat}")
    print(f"  service, new members   {median_fresh:7.3f} s  {args.rows / median_fresh:9.0f} rows/s")
    print(f"  service, rerun         {median_rerun:7.3f} s  {args.rows / median_rerun:9.0f} rows/s")
    print(f"  raw executemany        {median_base:7.3f} s  {args.rows / median_base:9.0f} rows/s")
    print(f"  ratio service/raw      {median_fresh / median_base:7.1f}x slower (validation, dedupe, audit)")
    verdict = "meets" if median_fresh < 10 else "MISSES"
    print(f"  target < 10 s for the seed year's sheet: {verdict} ({median_fresh:.2f} s)")


if __name__ == "__main__":
    main()
