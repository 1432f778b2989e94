"""The funnel dashboard's queries over 1 M cases (issue 12): the funnel, drop-outs and days in stage,
each against a naive load-into-Python version of the same numbers, in the same run; prints the ratios.

    .venv/bin/python bench/funnel.py [--cases 1000000] [--database sqlite|postgresql]

The fill is bulk-inserted (Core executemany, like bench/reminders.py): 200 k members from 500 drives,
100 k patient searches of 10 candidates each, cases opened over 10 years (2016–2025) and moved down the
pipeline with the demo year's stage ratios (13 % of screenings re-mobilised, then 29 %, 56 %, 78 %, 95 %),
the rest closed with a reason: about 2.3 stage events per case. Each query is timed for one year (2021,
~100 k cases) and for the whole 10 years (1 M cases). Target: < 500 ms each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.cases import DonorCase, PatientSearch, dropouts, period_funnel, stage_durations  # noqa: E402
from models.cases.funnel import _utc_bounds  # noqa: E402
from models.core import StageEvent, audit_values, make_engine  # noqa: E402
from models.registry import Donor, RecruitmentEvent  # noqa: E402
from tests.databases import fresh_database  # noqa: E402

CHUNK = 20_000
STAGES = ["screened", "remobilising", "high_res_typing", "exam", "donation", "follow_up"]
GO_ON = [0.13, 0.29, 0.56, 0.78, 0.95]  # the demo year's ratios: 307/2369, 89/307, 50/89, 39/50, …
REASONS = {
    "screened": ["patient_cancelled", "not_selected"],
    "remobilising": ["unreachable", "declined", "medical_deferral", "patient_cancelled"],
    "high_res_typing": ["not_selected", "patient_cancelled"],
    "exam": ["medical_deferral", "declined"],
    "donation": ["medical_deferral", "patient_cancelled"],
    "follow_up": ["lost_to_follow_up"],
}
FIRST = datetime(2016, 1, 1, 2, tzinfo=UTC)


def fill(engine: Engine, cases: int) -> int:
    rng = random.Random(12)
    started = time.perf_counter()
    members, searches, drives = max(cases // 5, 10), cases // 10 + 1, 500
    events = 0
    # One transaction per chunk of cases, as the imports commit per batch: PostgreSQL cannot prune the
    # versions of a tally row updated over and over in one open transaction (22 min for one 2.2 M-row
    # transaction on 2 busy cores).
    with engine.connect() as connection:
        connection.execute(
            insert(RecruitmentEvent.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": n,
                    "name": f"drive {n}",
                    "held_on": date(2015, 1, 1) + timedelta(days=n * 7),
                    "location": "郑州",
                    "district": f"district {n % 12}",
                    "kind": "stem_cell",
                    "created_at": FIRST,
                }
                for n in range(1, drives + 1)
            ],
        )
        for start in range(1, members + 1, CHUNK):
            connection.execute(
                insert(Donor.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": n,
                        "code": f"BF{n:09d}",
                        "national_id_hash": f"h{n}",
                        "national_id_masked": "410***",
                        "status": "active",
                        "event_id": 1 + n % drives,
                        "created_at": FIRST,
                    }
                    for n in range(start, min(start + CHUNK, members + 1))
                ],
            )
        connection.execute(
            insert(PatientSearch.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": f"s{n}",
                    "patient_code": f"P{n}",
                    "centre": "c",
                    "urgency": "routine",
                    "status": "open",
                    "created_at": FIRST,
                }
                for n in range(searches)
            ],
        )
        batch_cases: list[dict[str, Any]] = []
        batch_events: list[dict[str, Any]] = []
        for n in range(cases):
            case_id = f"c{n:08d}"
            donor_id = 1 + n % members  # ten consecutive cases share a search: distinct members
            at = FIRST + timedelta(days=rng.random() * 3650)
            trail: list[tuple[str | None, str, datetime]] = [(None, "screened", at)]
            stage_index, status, reason = 0, "active", None
            while stage_index < len(GO_ON):
                at = at + timedelta(days=rng.expovariate(1 / 12))
                if rng.random() < GO_ON[stage_index]:
                    trail.append((STAGES[stage_index], STAGES[stage_index + 1], at))
                    stage_index += 1
                    continue
                reason = rng.choice(REASONS[STAGES[stage_index]])
                trail.append((STAGES[stage_index], "closed", at))
                status = "closed"
                break
            batch_cases.append(
                {
                    "id": case_id,
                    "search_id": f"s{n // 10}",
                    "donor_id": donor_id,
                    "stage": STAGES[stage_index],
                    "status": status,
                    "closed_reason": reason,
                    "version": len(trail),
                    "stage_entered_at": at,
                    "opened_at": trail[0][2],
                    "updated_at": at,
                }
            )
            entered: datetime | None = None  # when the case entered the stage it now leaves
            for source, target, when in trail:
                batch_events.append(  # the rows the services write (stage_days derived in one place)
                    audit_values(
                        entity="case",
                        donor_id=donor_id,
                        case_id=case_id,
                        from_state=source,
                        to_state=target,
                        at=when,
                        recorded_at=when,
                        actor="bench",
                        reason=reason if target == "closed" else None,  # as close_case writes it
                        from_state_since=entered,
                    )
                )
                entered = when
            if len(batch_cases) >= CHUNK:
                events += _flush(connection, batch_cases, batch_events)
        events += _flush(connection, batch_cases, batch_events)
        connection.commit()
    took = time.perf_counter() - started
    print(f"filled {cases:,} cases, {events:,} stage events, {members:,} members in {took:.0f} s")
    return events


def _flush(connection: Any, cases: list[dict[str, Any]], events: list[dict[str, Any]]) -> int:
    if not cases:
        return 0
    connection.execute(insert(DonorCase.__table__), cases)  # type: ignore[attr-defined]
    connection.execute(insert(StageEvent.__table__), events)  # type: ignore[attr-defined]
    connection.commit()
    done = len(events)
    cases.clear()
    events.clear()
    return done


# The naive versions: every case event loaded into Python (only the columns needed), counted there.


def _load(engine: Engine) -> tuple[list[Any], dict[str, str | None]]:
    with engine.connect() as connection:
        rows = list(
            connection.execute(
                select(
                    col(StageEvent.case_id),
                    col(StageEvent.from_state),
                    col(StageEvent.to_state),
                    col(StageEvent.at),
                ).where(col(StageEvent.entity) == "case")
            ).all()
        )
        pairs = connection.execute(select(col(DonorCase.id), col(DonorCase.closed_reason))).all()
    reasons: dict[str, str | None] = dict(pairs)
    return rows, reasons


def naive_funnel(engine: Engine, start: date, end: date) -> Counter[str]:
    low, high = _utc_bounds(start, end)
    rows, _ = _load(engine)
    return Counter(to for _c, _f, to, at in rows if low <= at.replace(tzinfo=UTC) < high)


def naive_dropouts(engine: Engine, start: date, end: date) -> Counter[tuple[str, str | None]]:
    low, high = _utc_bounds(start, end)
    rows, reasons = _load(engine)
    return Counter(
        (source, reasons[case])
        for case, source, to, at in rows
        if to == "closed" and low <= at.replace(tzinfo=UTC) < high
    )


def naive_durations(engine: Engine, start: date, end: date) -> dict[str, tuple[float, float]]:
    low, high = _utc_bounds(start, end)
    rows, _ = _load(engine)
    entered = {(case, to): at for case, _f, to, at in rows}
    stays: dict[str, list[float]] = defaultdict(list)
    for case, source, _to, at in rows:
        if source is not None and low <= at.replace(tzinfo=UTC) < high:
            stays[source].append((at - entered[(case, source)]).total_seconds() / 86400)
    result = {}
    for stage, days in stays.items():
        days.sort()
        result[stage] = (statistics.median_low(days), days[-(-len(days) * 9 // 10) - 1])
    return result


def timed(run: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


# What each SQL answer must equal in the naive one: the bench fails rather than time a wrong query.


def _same_funnel(sql: Any, naive: Counter[str]) -> bool:
    counts = sql.counts
    return [
        counts.initial_screenings,
        counts.remobilisations,
        counts.high_res_samples,
        counts.pre_donation_exams,
        counts.donations,
        sql.completed_collections,
    ] == [naive[stage] for stage in STAGES]


def _same_dropouts(sql: Any, naive: Counter[tuple[str, str | None]]) -> bool:
    categories = {"medical_deferral": "medical", "lost_to_follow_up": "other"}
    expected: Counter[tuple[str, str]] = Counter()
    for (stage, reason), n in naive.items():
        expected[(stage, categories.get(reason or "", reason or "other"))] += n
    found = Counter({(row.stage, cat): n for row in sql for cat, n in row.by_category.items() if n})
    return found == expected


def _same_durations(sql: Any, naive: dict[str, tuple[float, float]]) -> bool:
    found = {row.stage: (row.median_days, row.p90_days) for row in sql if row.stays}
    return found == {stage: (round(m, 1), round(p, 1)) for stage, (m, p) in naive.items()}


def write_cost(engine: Engine, rows: int = 20_000) -> tuple[float, float]:
    """Seconds to insert `rows` audit rows in one bulk insert with the tally trigger, and without it (the
    trigger dropped afterwards, on this throw-away database): what the tallies cost every writer."""
    case: dict[str, Any] = {"entity": "case", "donor_id": 1, "case_id": None, "actor": "bench"}
    at = datetime(2030, 1, 1, 2, tzinfo=UTC)
    batch = [
        audit_values(
            **case,
            from_state="screened",
            to_state="remobilising",
            at=at + timedelta(minutes=n),
            from_state_since=at - timedelta(days=n % 40, hours=n % 24),
        )
        for n in range(rows)
    ]
    took = []
    for drop in (False, True):
        if drop:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "DROP TRIGGER stage_event_tally"
                        + (" ON stage_event" if engine.dialect.name == "postgresql" else "")
                    )
                )
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(insert(StageEvent.__table__), batch)  # type: ignore[attr-defined]
        took.append(time.perf_counter() - started)
    return took[0], took[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database, Path(tmp)) as url:
        engine = make_engine(url)
        fill(engine, args.cases)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # The planner's statistics and the tallies' old row versions gone, as autovacuum keeps them.
            connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
        periods = {
            "2021": (date(2021, 1, 1), date(2021, 12, 31)),
            "2016–2025": (date(2016, 1, 1), date(2025, 12, 31)),
        }
        queries: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[[Any, Any], bool]]] = {
            "funnel": (period_funnel, naive_funnel, _same_funnel),
            "drop-outs": (dropouts, naive_dropouts, _same_dropouts),
            "days in stage": (stage_durations, naive_durations, _same_durations),
        }
        print(
            f"{'query':<14} {'period':<10} {'SQL (best of 3)':>16} {'naive (1 run)':>14} {'naive ÷ SQL':>12}"
        )
        wrong = []
        for name, (query, naive, same) in queries.items():
            for label, (start, end) in periods.items():
                with Session(engine) as session:
                    fast = timed(lambda q=query, s=start, e=end: q(session=session, start=s, end=e))  # type: ignore[misc]
                    answer = query(session=session, start=start, end=end)
                started = time.perf_counter()
                expected = naive(engine, start, end)
                slow = time.perf_counter() - started
                if not same(answer, expected):
                    wrong.append(f"{name} {label}")
                verdict = "ok" if fast < 0.5 else "OVER 500 ms"
                times = f"{fast * 1000:>13.0f} ms {slow * 1000:>11.0f} ms {slow / fast:>11.1f}×"
                print(f"{name:<14} {label:<10} {times}  {verdict}")
        with_trigger, without = write_cost(engine)
        print(
            f"writing 20,000 audit rows in one insert: {with_trigger * 1000:.0f} ms with the tally trigger, "
            f"{without * 1000:.0f} ms without ({with_trigger / without:.2f}×)"
        )
        engine.dispose()
        if wrong:
            sys.exit(f"SQL and naive answers differ: {', '.join(wrong)}")
        print("every SQL answer equals the naive one")


if __name__ == "__main__":
    main()
