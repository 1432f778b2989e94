"""Sign-up import throughput: the full service (read, validate, dedupe, upsert, audit) against a raw
`executemany` of the same rows into a bare table, both measured in this run on the same machine; and the
update path (the same members again, every phone changed and every other typing) beside the create path;
and row validation alone (no database), every optional column filled.

    .venv/bin/python bench/import_signups.py [--rows 2358] [--update-rows 20000] [--repeat 3]
                                             [--validate-rows 2500] [--database sqlite|postgresql]

Targets: the seed year's 2,358-row sheet imports in < 10 s on SQLite (issue 3); re-importing 20,000
changed members takes at most 3x the time of importing them new (issue 8, item 13); 2,500 rows validate
in well under a second (was a wall-clock assert in the unit tests, ~0.45 s; issue 9 moved it here).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, create_engine, insert
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from donorflow.demo import SIGNUP_HEADER, SignupRow, signup_rows, write_signup_csv  # noqa: E402
from models.core import make_engine
from models.intake import ImportPolicy, SignupRecord, import_signups, validate_row
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


HLA_HEADER = ("A_1", "A_2", "B_1", "B_2", "C_1", "C_2", "DRB1_1", "DRB1_2")
TYPINGS = (
    ("A*02:01", "A*24:02", "B*40:01", "B*46:01", "C*01:02", "C*03:04", "DRB1*09:01", "DRB1*15:01"),
    ("A*11:01", "A*33:03", "B*58:01", "B*13:02", "C*03:02", "C*07:02", "DRB1*03:01", "DRB1*12:02"),
    ("A*02:07", "A*11:01", "B*46:01", "B*15:01", "C*01:02", "C*04:01", "DRB1*08:03", "DRB1*14:54"),
)


def write_typed_sheet(path: Path, people: list[SignupRow], *, changed: bool) -> Path:
    """The members with a typing each; `changed`: every phone new and every other member's typing too."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *HLA_HEADER])
        for n, person in enumerate(people):
            typing = TYPINGS[(n + (n % 2 if changed else 0)) % len(TYPINGS)]
            cells = person.cells()
            if changed:
                cells[SIGNUP_HEADER.index("phone")] = f"139{n:08d}"
            writer.writerow([*cells, *typing])
    return path


def time_update_path(url: str, tmp: Path, rows: int, repeat: int) -> tuple[list[float], list[float]]:
    """`rows` typed members imported new, then the same members again with changes, `repeat` times."""
    people = list(signup_rows(rows, seed=2022))
    new = write_typed_sheet(tmp / "typed.csv", people, changed=False)
    changed = write_typed_sheet(tmp / "changed.csv", people, changed=True)
    engine = make_engine(url)
    create: list[float] = []
    update: list[float] = []
    for _ in range(repeat):
        empty_all_tables(engine)
        scenarios: list[tuple[Path, list[float], Literal["created", "updated"]]] = [
            (new, create, "created"),
            (changed, update, "updated"),
        ]
        for sheet, runs, action in scenarios:
            with Session(engine) as session:
                started = time.perf_counter()
                report = import_signups(session=session, path=sheet, policy=ImportPolicy(id_salt=b"bench"))
                runs.append(time.perf_counter() - started)
            assert report.count(action) == rows, (action, report.to_json()["rejected"][:3])
    engine.dispose()
    return create, update


def time_validation(rows: int, repeat: int) -> list[float]:
    """`validate_row` alone on `rows` generated sign-ups with every optional column filled."""
    cells = [
        {**dict(zip(SIGNUP_HEADER, person.cells(), strict=True)), "external_id": f"ZZ-{n}", "A_1": "A*02:01"}
        for n, person in enumerate(signup_rows(rows, seed=2500))
    ]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        results = [validate_row(n, row, drive_date=None) for n, row in enumerate(cells, start=2)]
        times.append(time.perf_counter() - started)
        assert all(isinstance(result, SignupRecord) for result in results), results[:3]
    return times


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
    parser.add_argument("--update-rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--validate-rows", type=int, default=2500)
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
        create, update = time_update_path(url, Path(tmp), args.update_rows, args.repeat)
    median_fresh, median_rerun, median_base = (statistics.median(t) for t in (fresh, rerun, baseline))
    print(f"sign-up import, {args.rows} rows, {args.database}, median of {args.repeat}")
    print(f"  service, new members   {median_fresh:7.3f} s  {args.rows / median_fresh:9.0f} rows/s")
    print(f"  service, rerun         {median_rerun:7.3f} s  {args.rows / median_rerun:9.0f} rows/s")
    print(f"  raw executemany        {median_base:7.3f} s  {args.rows / median_base:9.0f} rows/s")
    print(f"  ratio service/raw      {median_fresh / median_base:7.1f}x slower (validation, dedupe, audit)")
    verdict = "meets" if median_fresh < 10 else "MISSES"
    print(f"  target < 10 s for the seed year's sheet: {verdict} ({median_fresh:.2f} s)")
    median_create, median_update = statistics.median(create), statistics.median(update)
    ratio = median_update / median_create
    n = args.update_rows
    print(f"update path, {n} typed members, {args.database}, median of {args.repeat}")
    print(f"  create: new members      {median_create:7.3f} s  {n / median_create:9.0f} rows/s")
    print(f"  update: phone/typing new {median_update:7.3f} s  {n / median_update:9.0f} rows/s")
    print(f"  ratio update/create      {ratio:7.2f}x  (target <= 3x: {'meets' if ratio <= 3 else 'MISSES'})")
    validation = statistics.median(time_validation(args.validate_rows, args.repeat))
    print(f"row validation alone, {args.validate_rows} rows, every optional column, median of {args.repeat}")
    verdict = "meets" if validation < 1.0 else "MISSES"
    print(f"  validate_row           {validation:7.3f} s  (target < 1 s: {verdict})")


if __name__ == "__main__":
    main()
