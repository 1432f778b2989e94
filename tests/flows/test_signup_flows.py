"""The sign-up flows: a sheet through the import flow, and the inbox watcher importing each file once."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from sqlalchemy import func
from sqlmodel import Session, select

from donorflow.demo import signup_rows, write_signup_csv
from flows import runtime
from flows.signups import import_signups_flow, watch_inbox
from models.registry import Donor
from tests.pii import PiiScanner


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Donor)).one()


def test_import_flow_reports_counts_and_rejected_rows_without_personal_data(
    wired: Session, tmp_path: Path
) -> None:
    people = list(signup_rows(30, seed=21, day=date(2021, 6, 14)))
    sheet = write_signup_csv(tmp_path / "drive.csv", people)
    with sheet.open("a", encoding="utf-8") as handle:
        handle.write(f"坏行,M,,410102199001011230,{people[0].phone},,,2021-06-14\n")
    state = import_signups_flow(str(sheet), coordinator="数据管理员", return_state=True)
    assert state.result() == {"created": 30, "updated": 0, "unchanged": 0, "rejected": 1}
    this_run = ArtifactFilter(
        key=ArtifactFilterKey(any_=["signup-import"]),
        flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
    )
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=this_run)
    table = str(artifact.data)
    assert "row" in table and "32" in table and "check digit does not match" in table
    for person in people[:3]:
        assert person.name not in table and person.phone not in table
    assert _count(wired) == 30


def test_inbox_watcher_imports_each_sheet_once(wired: Session, tmp_path: Path) -> None:
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    write_signup_csv(inbox / "drive-a.csv", list(signup_rows(5, seed=31, day=date(2021, 5, 8))))
    (inbox / "notes.txt").write_text("not a sheet", encoding="utf-8")
    assert watch_inbox() == {"imported": 1, "skipped": 0}
    shutil.copy(inbox / "drive-a.csv", inbox / "drive-a-copy.csv")  # the same sheet dropped twice
    write_signup_csv(inbox / "drive-b.csv", list(signup_rows(4, seed=32, day=date(2021, 5, 9))))
    assert watch_inbox() == {"imported": 1, "skipped": 2}
    assert _count(wired) == 9


def test_import_leaves_no_sheet_cells_in_prefect_result_storage(wired: Session, tmp_path: Path) -> None:
    """`make up` persists results: the task's and the flow's results carry counts, never a member's values."""
    from prefect.settings import (
        PREFECT_LOCAL_STORAGE_PATH,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT,
        temporary_settings,
    )

    people = list(signup_rows(5, seed=23, day=date(2021, 6, 14)))
    sheet = write_signup_csv(tmp_path / "drive.csv", people)
    storage = tmp_path / "storage"
    with temporary_settings({PREFECT_RESULTS_PERSIST_BY_DEFAULT: True, PREFECT_LOCAL_STORAGE_PATH: storage}):
        state = import_signups_flow(str(sheet), coordinator="数据管理员", return_state=True)
    assert state.result() == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    assert any(storage.iterdir())  # the flow's result (counts) is kept
    scanner = PiiScanner()
    for person in people:
        scanner.add(name=person.name, phone=person.phone, national_id=person.national_id)
    assert scanner.files(storage) == []
