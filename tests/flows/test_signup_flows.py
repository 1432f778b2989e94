"""The sign-up flows: a sheet through the import flow, and the inbox watcher importing each file once."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from sqlalchemy import func
from sqlmodel import Session, select

from donorflow.demo import signup_rows, write_signup_csv
from flows import runtime
from flows.signups import import_signups_flow, watch_inbox
from models.intake import SheetLimits
from models.registry import Donor
from tests.pii import PiiScanner


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Donor)).one()


def test_import_flow_reports_counts_and_rejected_rows_without_personal_data(
    wired: Session, tmp_path: Path
) -> None:
    people = list(signup_rows(30, seed=21, day=date(2021, 6, 14)))
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True)
    sheet = write_signup_csv(inbox / "drive.csv", people)
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


def test_inbox_watcher_imports_an_atlas_donor_file_dropped_in_the_inbox(wired: Session) -> None:
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    typing = {
        "a": {"dna": {"field1": "*02:01", "field2": "*24:02"}},
        "b": {"dna": {"field1": "*40:01", "field2": "*46:01"}},
        "drb1": {"dna": {"field1": "*09:01", "field2": "*15:01"}},
    }
    donors = [{"recordId": f"80{n}", "changeType": "N", "donorType": "D", "hla": typing} for n in range(3)]
    (inbox / "atlas-update.json").write_text(json.dumps({"updateMode": "diff", "donors": donors}), "utf-8")
    assert watch_inbox() == {"imported": 1, "skipped": 0}
    assert watch_inbox() == {"imported": 0, "skipped": 1}  # the same file is imported once
    wired.expire_all()
    assert sorted(d.external_id or "" for d in wired.exec(select(Donor))) == ["800", "801", "802"]


def _refused(path: str) -> str:
    """Run the import flow on `path`; it must fail (not hang), and its message is returned."""
    state = import_signups_flow(path, return_state=True)
    assert state.is_failed(), state
    return str(state.message)


def test_import_flow_refuses_a_fifo_in_the_inbox_without_opening_it(wired: Session) -> None:
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True)
    fifo = inbox / "drive.csv"
    os.mkfifo(fifo)
    done, opened = threading.Event(), threading.Event()

    def writer() -> None:  # if anything opens the FIFO to read, this end lets it go (EOF) and tells us
        while not done.wait(0.05):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader has it open
                continue
            opened.set()
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        message = _refused(str(fifo))
    finally:
        done.set()
        thread.join()
    assert "drive.csv is not a regular file" in message
    assert not opened.is_set(), "the FIFO was opened for reading"
    assert _count(wired) == 0


def test_import_flow_refuses_paths_outside_the_inbox_links_devices_and_oversized_files(
    wired: Session, tmp_path: Path
) -> None:
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True)
    outside = write_signup_csv(tmp_path / "outside.csv", list(signup_rows(3, seed=22, day=date(2021, 6, 14))))
    (inbox / "zero.csv").symlink_to("/dev/zero")
    (inbox / "escape.csv").symlink_to(outside)
    (inbox / "folder.csv").mkdir()
    assert "outside.csv is not in the import folder" in _refused(str(outside))
    assert "not in the import folder" in _refused(str(inbox / ".." / "outside.csv"))
    assert "escape.csv is not in the import folder" in _refused(str(inbox / "escape.csv"))
    assert "zero.csv is not in the import folder" in _refused(str(inbox / "zero.csv"))  # a link out
    assert "folder.csv is not a regular file" in _refused("folder.csv")  # relative: inside the inbox
    assert "file not found: nope.csv" in _refused("nope.csv")

    shutil.copy(outside, inbox / "big.csv")
    policy = runtime.config().import_policy
    small = replace(policy, limits=SheetLimits(max_file_bytes=100))
    runtime.configure(replace(runtime.config(), import_policy=small))
    assert "big.csv is larger than the import limit of 100 bytes" in _refused(str(inbox / "big.csv"))
    assert _count(wired) == 0


def test_inbox_watcher_skips_what_is_not_a_regular_file(wired: Session) -> None:
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True)
    os.mkfifo(inbox / "pipe.csv")
    (inbox / "zero.csv").symlink_to("/dev/zero")
    write_signup_csv(inbox / "drive.csv", list(signup_rows(2, seed=33, day=date(2021, 5, 8))))
    assert watch_inbox() == {"imported": 1, "skipped": 2}
    assert _count(wired) == 2


def test_import_leaves_no_sheet_cells_in_prefect_result_storage(wired: Session, tmp_path: Path) -> None:
    """`make up` persists results: the task's and the flow's results carry counts, never a member's values."""
    from prefect.settings import (
        PREFECT_LOCAL_STORAGE_PATH,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT,
        temporary_settings,
    )

    people = list(signup_rows(5, seed=23, day=date(2021, 6, 14)))
    inbox = runtime.config().inbox_dir
    inbox.mkdir(parents=True)
    sheet = write_signup_csv(inbox / "drive.csv", people)
    storage = tmp_path / "storage"
    with temporary_settings({PREFECT_RESULTS_PERSIST_BY_DEFAULT: True, PREFECT_LOCAL_STORAGE_PATH: storage}):
        state = import_signups_flow(str(sheet), coordinator="数据管理员", return_state=True)
    assert state.result() == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    assert any(storage.iterdir())  # the flow's result (counts) is kept
    scanner = PiiScanner()
    for person in people:
        scanner.add(name=person.name, phone=person.phone, national_id=person.national_id)
    assert scanner.files(storage) == []
