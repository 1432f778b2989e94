"""The HLA index over the registry: built from the database, kept in step with it, saved and reloaded."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

import hla
from donorflow.demo import SIGNUP_HEADER, signup_rows
from hla.likelihood import HaplotypeSet
from models.core import StageEvent, ValidationError
from models.intake import ImportPolicy, import_signups
from models.matching import (
    IndexFile,
    IndexStore,
    patient_genotype,
    remobilisation_order,
    search_registry,
    typing_genotype,
)
from models.registry import Donor, HlaTyping, withdraw_donor

POLICY = ImportPolicy(id_salt=b"match", batch_size=100)
PATIENT = "A*02:01 A*24:02 B*40:01 B*46:01 C*01:02 C*03:04 DRB1*09:01 DRB1*15:01"
TYPINGS = [
    ("A*02:01", "A*24:02", "B*40:01", "B*46:01", "C*01:02", "C*03:04", "DRB1*09:01", "DRB1*15:01"),  # 8/8
    (
        "A*02:06",
        "A*24:02",
        "B*40:01",
        "B*46:01",
        "C*01:02",
        "C*03:04",
        "DRB1*09:01",
        "DRB1*15:01",
    ),  # A antigen
    ("A*11:01", "A*33:03", "B*58:01", "B*13:02", "C*03:02", "C*07:02", "DRB1*03:01", "DRB1*12:02"),  # far
    ("A*02", "A*24:02", "B*40:01", "B*46:01", "C*01:02", "C*03:04", "DRB1*09:01", "DRB1*15:01"),  # low-res A
]


def _sheet(path: Path, count: int, start: int = 0) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, "A_1", "A_2", "B_1", "B_2", "C_1", "C_2", "DRB1_1", "DRB1_2"])
        for i, row in enumerate(signup_rows(count, seed=8, start=start, day=date(2021, 6, 14))):
            writer.writerow([*row.cells(), *TYPINGS[(start + i) % len(TYPINGS)]])
    return path


def _brute_force(session: Session, patient: hla.Genotype, max_mismatches: int) -> dict[str, hla.MatchResult]:
    found = {}
    for donor, typing in session.exec(select(Donor, HlaTyping).join(HlaTyping)):
        if donor.status != "active":
            continue
        result = hla.grade(patient, typing_genotype(typing))
        if result.mismatches <= max_mismatches:
            found[donor.code] = result
    return found


def test_index_search_equals_grading_every_member(session: Session, tmp_path: Path) -> None:
    import_signups(session=session, path=_sheet(tmp_path / "a.csv", 40), policy=POLICY)
    store = IndexStore(IndexFile(tmp_path / "index.npz"))
    patient = patient_genotype(PATIENT)
    for allowance in (0, 1, 2):
        total, rows = search_registry(
            session=session, index=store.open(session), patient=patient, max_mismatches=allowance, limit=100
        )
        expected = _brute_force(session, patient, allowance)
        assert total == len(expected) == len(rows)
        assert {row.code: row.result for row in rows} == expected
    _total, best = search_registry(session=session, index=store.open(session), patient=patient, limit=1)
    assert best[0].as_dict()["certainty"] == "definite" and best[0].as_dict()["matched"] == 8


def test_a_patient_untyped_at_c_is_searched_as_potential_there_not_refused(
    session: Session, tmp_path: Path
) -> None:
    """Issue 13 item 7: an 8/8 search for a patient typed at A, B, DRB1 only runs; C is potential at
    both positions for every candidate and the JSON carries the warning."""
    import_signups(session=session, path=_sheet(tmp_path / "a.csv", 8), policy=POLICY)
    store = IndexStore(IndexFile(tmp_path / "index.npz"))
    patient = patient_genotype("A*02:01 A*24:02 B*40:01 B*46:01 DRB1*09:01 DRB1*15:01")
    total, rows = search_registry(session=session, index=store.open(session), patient=patient, limit=100)
    expected = _brute_force(session, patient, 0)  # the 8/8 and the low-resolution A members
    assert total == len(rows) == len(expected) >= 2
    assert {row.code: row.result for row in rows} == expected
    for row in rows:
        shown = row.as_dict()
        loci = shown["loci"]
        assert isinstance(loci, dict) and loci["C"] == ["potential", "potential"]
        assert shown["patient_untyped"] == ["C"]
        assert shown["certainty"] == "potential"


def test_index_follows_imports_and_withdrawals_and_reloads_without_rebuilding(
    session: Session, tmp_path: Path
) -> None:
    import_signups(session=session, path=_sheet(tmp_path / "a.csv", 8), policy=POLICY)
    path = tmp_path / "index.npz"
    store = IndexStore(IndexFile(path))
    patient = patient_genotype(PATIENT)
    # Per 4 members: one 8/8 allele match and one low-resolution potential match have 0 mismatches.
    assert search_registry(session=session, index=store.open(session), patient=patient)[0] == 4
    import_signups(session=session, path=_sheet(tmp_path / "b.csv", 8, start=8), policy=POLICY)
    first_code = search_registry(session=session, index=store.open(session), patient=patient)[1][0].code
    assert search_registry(session=session, index=store.open(session), patient=patient)[0] == 8
    withdraw_donor(session=session, code=first_code, actor="dm")
    reopened = IndexStore(IndexFile(path))  # a restart: loads the file, applies what changed since
    total, rows = search_registry(session=session, index=reopened.open(session), patient=patient)
    assert total == 7 and first_code not in {row.code for row in rows}
    assert store.built and not reopened.built
    # Nothing changed since: a refresh re-reads only the look-back window (here all 16 members) and the
    # saved watermarks are the database's newest audit event and typing.
    assert reopened.refresh(session) == 16
    newest_event = session.exec(select(func.max(StageEvent.id))).one()
    newest_typing = session.exec(select(func.max(HlaTyping.id))).one()
    assert json.loads(path.with_suffix(".json").read_text()) == {
        "event_mark": newest_event,
        "typing_mark": newest_typing,
    }


def test_an_unusable_index_file_is_rebuilt_from_the_database(session: Session, tmp_path: Path) -> None:
    import_signups(session=session, path=_sheet(tmp_path / "a.csv", 8), policy=POLICY)
    path = tmp_path / "index.npz"
    IndexStore(IndexFile(path)).open(session)
    path.write_bytes(b"half a file")  # a crash mid-write by an older version, a disk full, a bad copy
    reopened = IndexStore(IndexFile(path))
    total, _rows = search_registry(
        session=session, index=reopened.open(session), patient=patient_genotype(PATIENT)
    )
    assert reopened.built and total == 4
    assert IndexFile(path).load(None) is not None  # and saved again, usable by the next process


def test_patient_typing_errors_are_clear() -> None:
    with pytest.raises(ValidationError, match=r'"A\*02:0x" at A: field 2 is not a number'):
        patient_genotype("A*02:0x A*24:02")
    with pytest.raises(ValidationError, match="^患者HLA分型为空 .*empty"):
        patient_genotype("  ")
    with pytest.raises(ValidationError, match="^患者HLA分型有误 patient HLA typing: ") as pasted:
        patient_genotype("A*02:0" + "x" * 5000)  # a pasted page is not echoed whole
    assert len(str(pasted.value)) < 400 and str(pasted.value).endswith("…")
    gl = patient_genotype("A*02:01+A*24:02^B*40:01+B*46:01^DRB1*09:01+DRB1*15:01")
    assert set(gl.loci) >= {"A", "B", "DRB1"}


# A haplotype-frequency set over the typings above: the low-resolution A*02 is A*02:01 (on the patient's
# haplotype) three times in four, A*02:06 otherwise (issue 13 item 8).
HAPLOTYPES = [
    ({"A": "02:01", "B": "40:01", "C": "03:04", "DRB1": "09:01"}, 0.30),
    ({"A": "24:02", "B": "46:01", "C": "01:02", "DRB1": "15:01"}, 0.30),
    ({"A": "02:06", "B": "40:01", "C": "03:04", "DRB1": "09:01"}, 0.10),
    ({"A": "11:01", "B": "58:01", "C": "03:02", "DRB1": "03:01"}, 0.15),
    ({"A": "33:03", "B": "13:02", "C": "07:02", "DRB1": "12:02"}, 0.15),
]


def test_search_results_carry_the_match_likelihood_and_it_orders_remobilisation(
    session: Session, tmp_path: Path
) -> None:
    import_signups(session=session, path=_sheet(tmp_path / "a.csv", 4), policy=POLICY)
    store = IndexStore(IndexFile(tmp_path / "index.npz"))
    haplotypes = HaplotypeSet.from_records(HAPLOTYPES, source="test-set")
    _total, rows = search_registry(
        session=session,
        index=store.open(session),
        patient=patient_genotype(PATIENT),
        max_mismatches=1,
        limit=10,
        haplotypes=haplotypes,
    )
    by_typing = {row.result.as_dict()["certainty"]: row for row in rows if row.result.mismatches == 0}
    assert by_typing["definite"].likelihood is not None and by_typing["definite"].likelihood.full == 1.0
    low = by_typing["potential"].as_dict()["likelihood"]
    assert low == {"6/6": 0.75, "8/8": 0.75, "10/10": None, "full": 0.75, "set": "test-set"}
    mismatched = next(row for row in rows if row.result.mismatches == 1)
    assert mismatched.likelihood is not None and mismatched.likelihood.full == 0.0
    # Search rank: the allele match, the potential, the A antigen mismatch; called in likelihood order.
    order = [row.likelihood.full for row in remobilisation_order(rows) if row.likelihood]
    assert order == [1.0, 0.75, 0.0]
    without = search_registry(
        session=session, index=store.open(session), patient=patient_genotype(PATIENT), max_mismatches=1
    )[1]
    assert all(row.likelihood is None and "likelihood" not in row.as_dict() for row in without)
