"""One member from a sign-up sheet to follow-up, through the deployed flows, as coordinators would do it.

A real Prefect server (the test harness) and a real served-deployments process (`python -m
donorflow.deployments`, as `make up` runs it): runs suspend and leave the process, resumes re-run them
from the top, and each transition's event triggers the next stage's deployment.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from donorflow.demo import SIGNUP_HEADER, signup_rows
from models.cases import DonorCase, FollowUp, StageEvent
from models.outbox import Outbox
from models.registry import Donor
from models.stage_forms import today
from tests.coordinator import Coordinator
from tests.databases import BACKENDS, fresh_database

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
HLA = {
    "A_1": "A*02:01",
    "A_2": "A*24:02",
    "B_1": "B*40:01",
    "B_2": "B*46:01",
    "C_1": "C*01:02",
    "C_2": "C*03:04",
    "DRB1_1": "DRB1*09:01",
    "DRB1_2": "DRB1*15:01",
}


@pytest.fixture(params=BACKENDS)
def served(
    request: pytest.FixtureRequest, prefect_server: str, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    with fresh_database(request.param, tmp_path) as url:
        env = {
            **os.environ,
            "PREFECT_API_URL": prefect_server,
            "DONORFLOW_DATABASE_URL": url,
            "DONORFLOW_VAR_DIR": str(tmp_path / "var"),
            "DONORFLOW_ID_SALT": "e2e-salt",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "results"),
        }
        log = (tmp_path / "serve.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "donorflow.deployments"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield url, env
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=40)  # a served process takes ~15 s to shut down gracefully
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


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


def test_member_from_sign_up_sheet_to_follow_up_through_deployed_flows(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _env = served
    person = next(signup_rows(1, seed=42, day=date(2021, 6, 14)))
    sheet = tmp_path / "var" / "inbox" / "drive.csv"  # the import flow reads only from the inbox
    sheet.parent.mkdir(parents=True, exist_ok=True)
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *HLA])
        writer.writerow([*person.cells(), *HLA.values()])
    coordinator = Coordinator(timeout=120)

    imported = _run("import-signups/import-signups", {"path": str(sheet), "coordinator": "数据管理员"})
    assert coordinator.final_state(imported) == "Completed"
    engine = create_engine(url)
    with Session(engine) as session:
        code = session.exec(select(Donor.code)).one()

    screening = _run(
        "initial-screening/initial-screening",
        {
            "search": {"patient_code": "P21-0001", "centre": "河南省肿瘤医院", "urgency": "urgent"},
            "candidate_codes": [code],
            "coordinator": "李老师",
        },
    )
    assert coordinator.final_state(screening) == "Completed"
    with Session(engine) as session:
        case_id = session.exec(select(DonorCase.id)).one()

    remobilising = _run("remobilise/remobilise", {"case_id": case_id})
    coordinator.answer(
        remobilising, {"coordinator": "李老师", "reached": True, "willing": True, "health_ok": True}
    )
    assert coordinator.final_state(remobilising) == "Completed"

    high_res = coordinator.run_named(f"high-res-typing-case-{case_id}").id  # started by the event trigger
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
            select(Outbox.template_key, Outbox.recipient_ref).order_by(col(Outbox.id))
        ).all()
        assert [key for key, _ in outbox] == ["remobilisation_contact", "donation_thanks"]
        assert all(ref.startswith("donor:") for _, ref in outbox)
        assert len(session.exec(select(FollowUp).where(FollowUp.case_id == case_id)).all()) == 14
    engine.dispose()
