"""One member from a sign-up sheet to follow-up, through the deployed flows, as coordinators would do it.

A real Prefect server (the test harness) and a real served-deployments process (`python -m
donorflow.deployments`, as `make up` runs it): runs suspend and leave the process, resumes re-run them
from the top, and each transition's event triggers the next stage's deployment.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from donorflow.demo import SIGNUP_HEADER, SignupRow, signup_rows, write_signup_csv
from donorflow.demo_year.load import SEED_FIGURES
from donorflow.demo_year.plan import plan_year
from donorflow.settings import Settings
from models.cases import DonorCase, FollowUp, today
from models.core import StageEvent
from models.outreach import Outbox
from models.registry import Donor, sheet_header
from tests.coordinator import Coordinator
from tests.databases import BACKENDS, fresh_database
from tests.factories import PATIENT_TYPING
from tests.pii import Finding, PiiScanner

ROOT = Path(__file__).resolve().parents[2]
TODAY = today().isoformat()
PANEL = {
    "blood_count_ok": True,
    "abo_rh": "A+",
    "hbv_negative": True,
    "hcv_negative": True,
    "hiv_negative": True,
    "syphilis_negative": True,
    "cmv": "negative",
    "liver_ok": True,
    "renal_ok": True,
    "chest_xray_ok": True,
    "ecg_ok": True,
    "ultrasound_ok": True,
}
# The sheet columns of the tests' one patient typing (tests/factories.py), as a sign-up sheet heads them.
HLA = {sheet_header(column): typing for column, typing in PATIENT_TYPING.items()}


@dataclass(frozen=True)
class Served:
    """A database, a served-deployments process on the session's Prefect server, and where it keeps things."""

    backend: str
    url: str
    env: dict[str, str]
    root: Path
    prefect_home: Path
    log: Path


# Module scope: the served process (~15 s to start, ~15 s to stop) starts once per database, and the
# personal-data scan below reads what the full case left behind.
@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp(f"served-{request.param}")
    with fresh_database(request.param, root) as url:
        home = root / "prefect"
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_server,
            "PREFECT_HOME": str(home),
            "DONORFLOW_DATABASE_URL": url,
            "DONORFLOW_VAR_DIR": str(root / "var"),
            "DONORFLOW_ID_SALT": "e2e-salt",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            # Stricter than `make up` (donorflow/up.py: prefect_env), which persists only what a flow asks
            # for: here every task's result too, so the personal-data scan sees anything a task returns.
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_LOCAL_STORAGE_PATH": str(home / "storage"),
        }
        log_path = root / "serve.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "donorflow.deployments"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield Served(request.param, url, env, root, home, log_path)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=40)  # a served process takes ~15 s to shut down gracefully
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _inbox(served: Served) -> Path:
    """The served import flow reads only from its inbox (DONORFLOW_VAR_DIR/inbox)."""
    inbox = served.root / "var" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox


def _run(name: str, parameters: dict[str, Any]) -> UUID:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    deadline = time.monotonic() + 120
    while True:  # the served process registers its deployments a few seconds after it starts
        try:
            run = run_deployment(name, parameters=parameters, timeout=0)
            assert isinstance(run, FlowRun)  # called from sync code: the run, not a coroutine
            return run.id
        except Exception:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@dataclass(frozen=True)
class FullCase:
    person: SignupRow
    code: str
    case_id: str


@pytest.fixture(scope="module")
def full_case(served: Served) -> FullCase:
    """One member from a sign-up sheet to follow-up, every stage answered as a coordinator would."""
    person = next(signup_rows(1, seed=42, day=date(2021, 6, 14)))
    sheet = _inbox(served) / "drive.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *HLA])
        writer.writerow([*person.cells(), *HLA.values()])
    coordinator = Coordinator(timeout=120)

    imported = _run("import-signups/import-signups", {"path": str(sheet), "coordinator": "数据管理员"})
    assert coordinator.final_state(imported) == "Completed"
    engine = create_engine(served.url)
    with Session(engine) as session:
        code = session.exec(select(Donor.code)).one()

    screening = _run(
        "initial-screening/initial-screening",
        {
            "search": {"patient_code": "E2E-0001", "centre": "河南省肿瘤医院", "urgency": "urgent"},
            "candidate_codes": [code],
            "coordinator": "李老师",
        },
    )
    assert coordinator.final_state(screening) == "Completed"
    with Session(engine) as session:
        case_id = session.exec(select(DonorCase.id)).one()

    remobilising = _run("remobilise/remobilise", {"case_id": case_id})
    coordinator.answer(
        remobilising, {"coordinator": "李老师", "reached": "yes", "willing": "yes", "health_ok": "yes"}
    )
    assert coordinator.final_state(remobilising) == "Completed"

    high_res = coordinator.run_named(f"high-res-typing-case-{case_id}").id  # started by the event trigger
    coordinator.answer(
        high_res, {"coordinator": "李老师", "site": "河南省红十字血液中心", "appointment_date": TODAY}
    )
    coordinator.answer(high_res, {"coordinator": "李老师", "sample_date": TODAY, "lab": "HLA lab"})
    typing = {key.lower(): value for key, value in HLA.items()}
    coordinator.answer(
        high_res,
        {"coordinator": "李老师", "result_date": TODAY, "centre_decision": "proceed_to_workup", **typing},
    )
    assert coordinator.final_state(high_res) == "Completed"

    exam = coordinator.run_named(f"pre-donation-exam-case-{case_id}").id
    coordinator.answer(exam, {"coordinator": "王医生", "hospital": "郑大一附院", "exam_date": TODAY})
    coordinator.answer(
        exam, {"coordinator": "王医生", "result": "passed", "result_date": TODAY, "panel": PANEL}
    )
    assert coordinator.final_state(exam) == "Completed"

    donation = coordinator.run_named(f"donation-case-{case_id}").id
    coordinator.answer(
        donation,
        {
            "coordinator": "王医生",
            "product": "BM",
            "hospital": "河南省肿瘤医院",
            "gcsf_start": TODAY,
            "collection_date": TODAY,
        },
    )
    coordinator.answer(donation, {"coordinator": "王医生", "completed": True, "collected_on": TODAY})
    assert coordinator.final_state(donation) == "Completed"
    engine.dispose()
    return FullCase(person, code, case_id)


def test_member_from_sign_up_sheet_to_follow_up_through_deployed_flows(
    served: Served, full_case: FullCase
) -> None:
    case_id = full_case.case_id
    engine = create_engine(served.url)
    with Session(engine) as session:
        case = session.get(DonorCase, case_id)
        assert case is not None and (case.stage, case.status, case.live_run_id) == (
            "follow_up",
            "active",
            None,
        )
        trail = session.exec(
            select(StageEvent.entity, StageEvent.to_state, StageEvent.actor).order_by(col(StageEvent.id))
        ).all()
        assert [(entity, state) for entity, state, _ in trail] == [
            ("donor", "registered"),
            ("donor", "active"),
            ("case", "screened"),
            ("case", "remobilising"),
            ("case", "high_res_typing"),
            ("case", "exam"),
            ("case", "donation"),
            ("case", "follow_up"),
        ]
        assert trail[4][2] == "coordinator:李老师" and trail[-1][2] == "coordinator:王医生"
        outbox = session.exec(
            select(Outbox.template_key, Outbox.recipient_ref, Outbox.urgent, Outbox.context)
            .where(Outbox.kind == "message")
            .order_by(col(Outbox.id))
        ).all()
        to_member = [(key, urgent) for key, ref, urgent, _ in outbox if ref != "coordinators"]
        assert to_member == [
            ("registration_welcome", False),
            ("remobilisation_contact", True),  # the search is urgent
            ("sample_appointment", False),
            ("sample_booking", False),
            ("exam_booking", False),
            ("gcsf_schedule", False),
            ("donation_thanks", False),
        ]
        alerts = [(key, context) for key, ref, _, context in outbox if ref == "coordinators"]
        # Eight forms asked once each (re-runs after a suspend re-ask under the same keys), one result.
        assert sorted(key for key, _ in alerts) == ["alert_form_waiting"] * 8 + ["high_res_result"]
        assert all("/runs/flow-run/" in context["link"] for _, context in alerts)
        # Each stage entered was announced through the outbox and relayed once its run let go of the case.
        events = session.exec(
            select(Outbox.template_key, Outbox.status).where(Outbox.kind == "event").order_by(col(Outbox.id))
        ).all()
        assert events == [(f"donorflow.case.{state}", "sent") for _, state, _ in trail[2:]]
        assert len(session.exec(select(FollowUp).where(FollowUp.case_id == case_id)).all()) == 14
    engine.dispose()


DONORFLOW = str(Path(sys.executable).with_name("donorflow"))
# Prefect answers at most this many rows per filter request (PREFECT_API_DEFAULT_LIMIT).
PAGE = 200


def _cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [DONORFLOW, *args],
        cwd=ROOT,
        env={**served.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


def _pages(api: str, path: str, body: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        response = httpx.post(
            f"{api}/{path}", json={**(body or {}), "limit": PAGE, "offset": offset}, timeout=60
        )
        response.raise_for_status()
        page = response.json()
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _through_the_api(api: str, scanner: PiiScanner) -> list[Finding]:
    """What the UI shows: every flow run's parameters and states, run inputs, logs and artifacts."""
    found: list[Finding] = []
    runs = list(_pages(api, "flow_runs/filter"))
    found += scanner.json("API flow runs (parameters, states)", runs)
    for run in runs:
        inputs = httpx.post(
            f"{api}/flow_runs/{run['id']}/input/filter", json={"prefix": "", "limit": 1000}, timeout=60
        )
        inputs.raise_for_status()
        found += scanner.json(f"API run inputs of {run['name']}", inputs.json())
    found += scanner.json("API task runs", list(_pages(api, "task_runs/filter")))
    found += scanner.json("API logs", list(_pages(api, "logs/filter")))
    found += scanner.json("API artifacts", list(_pages(api, "artifacts/filter")))
    return found


def _prefect_database() -> Path:
    """The session's Prefect server keeps its SQLite file where the test harness says."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value())
    assert url.startswith("sqlite+aiosqlite:///"), url
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def test_no_name_phone_or_id_number_in_prefect_logs_artifacts_or_cli_json(
    served: Served, full_case: FullCase, prefect_server: str
) -> None:
    if served.backend != "sqlite":
        pytest.skip("the demo year costs ~30 s per database; what Prefect keeps is the same on both")
    scanner = PiiScanner()
    scanner.add(
        name=full_case.person.name, phone=full_case.person.phone, national_id=full_case.person.national_id
    )
    outputs: list[tuple[str, str]] = []

    # The demo year, as `donorflow demo zhengzhou-2021` loads it.
    demo = _cli(served, "demo", "zhengzhou-2021")
    outputs.append(("demo zhengzhou-2021 (stderr)", demo.stderr))
    for record in plan_year(2021, SEED_FIGURES, donate_max_age=Settings().donate_max_age).registry.records:
        scanner.add(name=record.name, phone=record.phone, national_id=record.national_id)

    # A sheet with errors, through the served import deployment.
    people = list(signup_rows(8, seed=808, day=date(2021, 9, 9)))
    sheet = write_signup_csv(_inbox(served) / "drive-with-errors.csv", people)
    broken = list(signup_rows(2, seed=809, day=date(2021, 9, 9)))
    wrong_check = broken[0].national_id[:-1] + ("1" if broken[0].national_id[-1] == "0" else "0")
    with sheet.open("a", encoding="utf-8") as handle:
        handle.write(f"{broken[0].name},M,,{wrong_check},{broken[0].phone},,,2021-09-09\n")
        handle.write(f"{broken[1].name},F,,{broken[1].national_id},555-0100,,,2021-09-09\n")
    for person in [*people, *broken]:
        scanner.add(name=person.name, phone=person.phone, national_id=person.national_id)
    scanner.add(name=broken[0].name, phone=broken[0].phone, national_id=wrong_check)
    coordinator = Coordinator(timeout=120)
    imported = _run("import-signups/import-signups", {"path": str(sheet), "coordinator": "数据管理员"})
    assert coordinator.final_state(imported) == "Completed"
    (artifact,) = httpx.post(
        f"{prefect_server}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [str(imported)]}, "key": {"any_": ["signup-import"]}}},
        timeout=60,
    ).json()
    table = json.loads(artifact["data"]) if isinstance(artifact["data"], str) else artifact["data"]
    assert all(set(row) == {"row", "result"} for row in table)
    assert [row["row"] for row in table] == ["", "10", "11"]  # the rejected rows: numbers and reasons

    # The registry's own HLA search over the demo year, and the funnel, through their deployments.
    screening = _run(
        "initial-screening/initial-screening",
        {
            "search": {"patient_code": "E2E-0900", "centre": "河南省肿瘤医院", "hla": " ".join(HLA.values())},
            "coordinator": "李老师",
            "top_k": 3,
            "max_mismatches": 2,
        },
    )
    assert coordinator.final_state(screening) == "Completed"
    funnel = _run("funnel-report/funnel-report", {"start": "2021-01-01", "end": "2021-12-31"})
    assert coordinator.final_state(funnel) == "Completed"

    # The CLI's machine-readable answers.
    demo_code = _cli(served, "search", "--hla", " ".join(HLA.values()), "--max-mismatches", "2", "--json")
    outputs.append(("search --json", demo_code.stdout))
    commands = [
        ("donors", "show", full_case.code, "--json"),
        ("donors", "show", json.loads(demo_code.stdout)[0]["code"], "--json"),
        ("funnel", "--from", "2021-01-01", "--to", "2021-12-31", "--json"),
        ("donors", "import", str(sheet), "--json"),
    ]
    for command in commands:
        result = _cli(served, *command)
        outputs += [
            (f"{' '.join(command[:2])} (stdout)", result.stdout),
            (f"{command[0]} (stderr)", result.stderr),
        ]

    found: list[Finding] = []
    for where, text in outputs:
        found += scanner.text(where, text)
    found += scanner.files(served.prefect_home)  # results, storage, the local profile
    found += scanner.data("serve log", served.log.read_bytes())
    if (served.root / "var" / "log").exists():
        found += scanner.files(served.root / "var" / "log")
    database = _prefect_database()
    for suffix in ("", "-wal", "-journal"):
        if Path(f"{database}{suffix}").exists():
            found += scanner.data(
                f"Prefect server database{suffix}", Path(f"{database}{suffix}").read_bytes()
            )
    found += _through_the_api(prefect_server, scanner)
    assert not found, "\n".join(f"{f.kind} {f.value} in {f.where}" for f in found[:20])
