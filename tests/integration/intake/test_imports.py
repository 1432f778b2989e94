"""import_file picks the importer by the file: an ATLAS donor file or a sign-up sheet (the CLI and the
inbox hold no such rule)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

import hla
from donorflow.demo import signup_rows, write_signup_csv
from models.core import ValidationError
from models.intake import ImportPolicy, import_file, in_inbox_format
from models.registry import Donor

POLICY = ImportPolicy(id_salt=b"test-salt", batch_size=50)
TYPED = {locus: {"dna": {"field1": f1, "field2": f2}} for locus, f1, f2 in [
    ("a", "*02:01", "*24:02"), ("b", "*40:01", "*46:01"), ("drb1", "*09:01", "*15:01"),
]}  # fmt: skip


def _atlas(tmp_path: Path) -> Path:
    path = tmp_path / "atlas.json"
    donors = [{"recordId": f"70{n}", "changeType": "N", "donorType": "D", "hla": TYPED} for n in range(3)]
    path.write_text(json.dumps({"updateMode": "diff", "donors": donors}), encoding="utf-8")
    return path


def _members(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Donor)).one()


def test_a_json_file_goes_to_the_atlas_importer_with_the_reference_loaded_for_it(
    session: Session, tmp_path: Path
) -> None:
    loads: list[int] = []

    def load() -> hla.Reference | None:
        loads.append(1)
        return None

    report = import_file(session=session, path=_atlas(tmp_path), policy=POLICY, load_reference=load)
    assert (report.count("created"), len(report.rejected), loads) == (3, 0, [1])
    assert sorted(d.external_id or "" for d in session.exec(select(Donor))) == ["700", "701", "702"]


def test_a_sheet_goes_to_the_sign_up_importer_without_loading_the_reference(
    session: Session, tmp_path: Path
) -> None:
    sheet = write_signup_csv(tmp_path / "drive.csv", list(signup_rows(4, seed=5, day=date(2021, 6, 14))))
    report = import_file(
        session=session, path=sheet, policy=POLICY, load_reference=lambda: pytest.fail("loaded for a sheet")
    )
    assert report.count("created") == 4 and _members(session) == 4


def test_an_atlas_file_given_a_drive_is_refused_before_anything_lands(
    session: Session, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="an ATLAS donor file names no drive"):
        import_file(session=session, path=_atlas(tmp_path), policy=POLICY, event_id=1)
    assert _members(session) == 0


def test_the_inbox_takes_sheets_and_atlas_files_and_leaves_notes() -> None:
    names = ["a.csv", "b.XLSX", "c.json", "notes.txt", "old.xls", "list.tsv"]
    assert [n for n in names if in_inbox_format(Path(n))] == ["a.csv", "b.XLSX", "c.json"]
