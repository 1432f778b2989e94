"""What Prefect adds to a pipeline stage, measured beside the bare models/ service calls in the same run.

    .venv/bin/python bench/prefect_overhead.py [--cases 10] [--rows 2358]

- stage flow, start → form shown: the remobilise flow from its first line to the paused form (claim, enter
  the stage, queue the message, describe the case), against the same service calls made directly;
- stage flow, answer → finished: from the resumed state to Completed (Prefect's state timestamps), against
  record_contact directly; this includes up to one pause-poll interval (1 s here) of waiting for the answer
  to be noticed, printed separately;
- initial-screening flow (no form) with 20 candidates, against screen_candidates directly;
- import-signups flow on the seed year's 2,358-row sheet, against import_signups directly.
Target (issue 4): < 0.5 s of Prefect overhead a stage; the 2,358-row import flow < 10 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
from uuid import UUID  # noqa: E402

from prefect.client.orchestration import get_client  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from donorflow.demo import signup_rows, write_signup_csv  # noqa: E402
from flows import runtime  # noqa: E402
from flows.remobilise import remobilise  # noqa: E402
from flows.screening import PatientSearchForm, initial_screening  # noqa: E402
from flows.signups import import_signups_flow  # noqa: E402
from models.cases import (
    CaseStage,
    ContactAnswer,
    PatientSearchCreate,
    ensure_search,
    enter_stage,
    open_case,
    record_contact,
    screen_candidates,
    start_contact_attempt,
)
from models.core import make_engine, transaction
from models.intake import ImportPolicy, import_signups
from models.registry import Donor, RegistryStatus
from tests.coordinator import Coordinator  # noqa: E402
from tests.databases import empty_all_tables, fresh_database  # noqa: E402

POLICY = ImportPolicy(id_salt=b"bench")
ANSWER = {"coordinator": "bench", "reached": "yes", "willing": "yes", "health_ok": "yes"}


def _active_members(engine: Engine, sheet: Path, count: int) -> list[int]:
    with Session(engine) as session:
        import_signups(session=session, path=sheet, policy=POLICY)
        donors = list(session.exec(select(Donor).limit(count)))
        for donor in donors:
            donor.status = RegistryStatus.ACTIVE.value
        session.commit()
        return [d.id for d in donors if d.id is not None]


def _new_case(engine: Engine, donor_id: int, tag: str) -> str:
    with Session(engine) as session, transaction(session):
        search = ensure_search(session=session, data=PatientSearchCreate(patient_code=f"B-{tag}", centre="c"))
        return open_case(session=session, search_id=search.id, donor_id=donor_id, actor="bench").id


def _state_times(run_id: UUID) -> dict[str, float]:
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run_id)
    times: dict[str, float] = {}
    for state in states:
        label = state.name or state.type.value
        key = label if label not in times else f"{label}#2"
        times[key] = state.timestamp.timestamp()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--rows", type=int, default=2358)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database("sqlite", Path(tmp)) as url,
        prefect_test_harness(server_startup_timeout=90),
    ):
        engine = make_engine(url)
        runtime.configure(
            runtime.FlowConfig(
                session_factory=lambda: Session(engine),
                import_policy=POLICY,
                inbox_dir=Path(tmp) / "inbox",
                pause_poll_seconds=1,
            )
        )
        (Path(tmp) / "inbox").mkdir()  # the import flow reads only from the inbox
        sheet = write_signup_csv(
            Path(tmp) / "inbox" / "seed-year.csv", list(signup_rows(args.rows, seed=2021))
        )
        members = _active_members(engine, sheet, 2 * args.cases + 20)

        bare_start, bare_answer = [], []
        for n in range(args.cases):
            case_id = _new_case(engine, members[n], f"bare-{n}")
            with Session(engine) as session:
                started = time.perf_counter()
                with transaction(session):  # one unit of work per step, as the flow commits it
                    enter_stage(session=session, case_id=case_id, stage=CaseStage.REMOBILISING, actor="bench")
                    start_contact_attempt(session=session, case_id=case_id, attempt=1)
                bare_start.append(time.perf_counter() - started)
                started = time.perf_counter()
                with transaction(session):
                    record_contact(
                        session=session,
                        case_id=case_id,
                        attempt=1,
                        answer=ContactAnswer(**ANSWER),
                        max_attempts=3,
                    )
                bare_answer.append(time.perf_counter() - started)

        flow_start, flow_answer = [], []
        coordinator = Coordinator()
        for n in range(args.cases):
            case_id = _new_case(engine, members[args.cases + n], f"flow-{n}")
            with ThreadPoolExecutor(1) as pool:
                running = pool.submit(remobilise, case_id)
                run = coordinator.run_named(f"remobilise-case-{case_id}")
                coordinator.answer(run.id, ANSWER)
                running.result(timeout=60)
            times = _state_times(run.id)
            flow_start.append(times["Suspended" if "Suspended" in times else "Paused"] - times["Running"])
            flow_answer.append(times["Completed"] - times["Running#2"])

        candidates = [str(c) for c in _codes(engine, members[-20:])]
        with Session(engine) as session:
            with transaction(session):
                search = ensure_search(
                    session=session, data=PatientSearchCreate(patient_code="B-screen", centre="c")
                )
            started = time.perf_counter()
            with transaction(session):
                screen_candidates(session=session, search_id=search.id, codes=candidates, actor="bench")
            bare_screen = time.perf_counter() - started
        _reset_cases(engine)
        started = time.perf_counter()
        initial_screening(PatientSearchForm(patient_code="B-screen-2", centre="c"), "bench", candidates)
        flow_screen = time.perf_counter() - started

        empty_all_tables(engine)
        with Session(engine) as session:
            started = time.perf_counter()
            import_signups(session=session, path=sheet, policy=POLICY)
            bare_import = time.perf_counter() - started
        empty_all_tables(engine)
        started = time.perf_counter()
        import_signups_flow(str(sheet))
        flow_import = time.perf_counter() - started
        engine.dispose()

    med = statistics.median
    print(f"Prefect overhead per stage, median of {args.cases} (SQLite, Prefect test server)")
    print(
        f"  start → form shown:  flow {med(flow_start):.3f} s  bare {med(bare_start):.3f} s  "
        f"overhead {med(flow_start) - med(bare_start):.3f} s"
    )
    print(
        f"  answer → finished:   flow {med(flow_answer):.3f} s  bare {med(bare_answer):.3f} s  "
        f"overhead {med(flow_answer) - med(bare_answer):.3f} s (includes ≤ 1 s pause polling)"
    )
    stage_overhead = med(flow_start) - med(bare_start)
    print(f"  target < 0.5 s a stage (form shown): {'meets' if stage_overhead < 0.5 else 'MISSES'}")
    print(
        f"initial-screening, 20 candidates: flow {flow_screen:.3f} s  bare {bare_screen:.3f} s  "
        f"ratio {flow_screen / bare_screen:.1f}x"
    )
    print(
        f"import-signups, {args.rows} rows: flow {flow_import:.3f} s  bare {bare_import:.3f} s  "
        f"ratio {flow_import / bare_import:.2f}x  target < 10 s: {'meets' if flow_import < 10 else 'MISSES'}"
    )


def _codes(engine: Engine, donor_ids: list[int]) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Donor.code).where(col(Donor.id).in_(donor_ids))))


def _reset_cases(engine: Engine) -> None:
    """Drop the cases the bare run opened, so the flow screens the same members afresh."""
    with engine.begin() as connection:
        for table in ("stage_event", "case_record", "follow_up", "outbox", "donor_case"):
            connection.execute(
                text(f"DELETE FROM {table}" + (" WHERE entity = 'case'" if table == "stage_event" else ""))
            )


if __name__ == "__main__":
    main()
