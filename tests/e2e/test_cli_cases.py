"""The CLI for stuck cases and empty registries: a real process, a real database (both backends)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from donorflow.demo import SIGNUP_HEADER, signup_rows
from models.cases import DonorCase, claim_case, open_case
from models.core import StageEvent, transaction
from models.registry import sheet_header
from tests.databases import BACKENDS, empty_all_tables, fresh_database
from tests.e2e.test_cli import CliRunner
from tests.factories import PATIENT_TYPING, add_donor, add_search

# The sheet columns of the tests' one patient typing (tests/factories.py), as a sign-up sheet heads them.
HLA = {sheet_header(column): typing for column, typing in PATIENT_TYPING.items()}
PATIENT = " ".join(HLA.values())


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp(f"cli-cases-{request.param}")) as url:
        yield url


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> CliRunner:
    engine = create_engine(database_url)
    empty_all_tables(engine)
    engine.dispose()
    return CliRunner(database_url, tmp_path)


def test_search_of_a_registry_without_searchable_members_is_empty_and_exits_0(run: CliRunner) -> None:
    result = run("search", "--hla", PATIENT, "--json", check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    human = run("search", "--hla", PATIENT)
    assert "0 candidates" in human.stdout


def test_search_after_the_only_member_withdrew_is_empty_and_exits_0(run: CliRunner, tmp_path: Path) -> None:
    person = next(signup_rows(1, seed=5, day=date(2021, 6, 14)))
    sheet = tmp_path / "drive.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *HLA])
        writer.writerow([*person.cells(), *HLA.values()])
    code = json.loads(run("donors", "import", str(sheet), "--json").stdout)["accepted"][0]["code"]
    assert [row["code"] for row in json.loads(run("search", "--hla", PATIENT, "--json").stdout)] == [code]
    run("donors", "withdraw", code, "--yes")
    result = run("search", "--hla", PATIENT, "--json", check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_search_shows_a_null_allele_beside_the_grade(run: CliRunner, tmp_path: Path) -> None:
    """Issue 13 item 4: a member typed A*02:01+A*24:09N (a null) is graded as homozygous A*02:01, and the
    search says the second position is graded against a null, in the JSON and in the table."""
    person = next(signup_rows(1, seed=6, day=date(2021, 6, 14)))
    typing = {**HLA, sheet_header("a_2"): "A*24:09N"}
    sheet = tmp_path / "drive.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *typing])
        writer.writerow([*person.cells(), *typing.values()])
    run("donors", "import", str(sheet), "--json")
    [row] = json.loads(run("search", "--hla", PATIENT, "--max-mismatches", "1", "--json").stdout)
    assert row["loci"]["A"] == ["allele", "mismatch"] and row["mismatches"] == 1
    assert row["nulls"] == {"A": [None, "expressed_vs_null"]}
    human = run("search", "--hla", PATIENT, "--max-mismatches", "1").stdout
    assert "allele mismatch(无效 null)" in human and "a null allele at this position" in human


def _import_members(run: CliRunner, sheet: Path, typings: list[dict[str, str]], seed: int) -> list[str]:
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *typings[0]])
        for person, typing in zip(
            signup_rows(len(typings), seed=seed, day=date(2021, 6, 14)), typings, strict=True
        ):
            writer.writerow([*person.cells(), *typing.values()])
    return [
        row["code"] for row in json.loads(run("donors", "import", str(sheet), "--json").stdout)["accepted"]
    ]


def test_search_with_dpb1_apart_ranks_permissive_first_and_counts_8_of_8(
    run: CliRunner, tmp_path: Path
) -> None:
    """Issue 13 item 6: DPB1 graded, its TCE permissiveness shown and used for ranking, but left out of
    the total with --dpb1-apart. DPB1 TCE groups (3.58.0): 09:01 → 1, 04:01/04:02/02:01 → 3."""
    # The second sign-up row (seed 9) is the younger member, ranked first on age alone: non-permissive.
    dpb1 = {"permissive": ("DPB1*04:01", "DPB1*04:02"), "non-permissive": ("DPB1*04:01", "DPB1*09:01")}
    typings = [{**HLA, "DPB1_1": first, "DPB1_2": second} for first, second in dpb1.values()]
    codes = dict(zip(dpb1, _import_members(run, tmp_path / "drive.csv", typings, seed=9), strict=True))
    patient = f"{PATIENT} DPB1*04:01 DPB1*02:01"
    loci = ["--loci", "A,B,C,DRB1,DPB1"]
    rows = json.loads(run("search", "--hla", patient, *loci, "--dpb1-apart", "--json").stdout)
    assert [row["code"] for row in rows] == [codes["permissive"], codes["non-permissive"]]
    assert [(row["matched"], row["of"], row["not_counted"]) for row in rows] == [(8, 8, ["DPB1"])] * 2
    assert [row["dpb1_tce"] for row in rows] == ["permissive", "non_permissive_hvg"]
    # Counted (12/12 style), a DPB1 mismatch is a mismatch: neither is within 0.
    assert json.loads(run("search", "--hla", patient, *loci, "--json").stdout) == []
    human = run("search", "--hla", patient, *loci, "--dpb1-apart").stdout
    assert "DPB1 不计入总分" in human and "允许性 permissive" in human and "非允许性" in human


def test_search_of_a_patient_untyped_at_c_warns_and_lists_members(run: CliRunner, tmp_path: Path) -> None:
    """Issue 13 item 7 through the CLI: no C typing for the patient → searched, potential at C, a warning."""
    [code] = _import_members(run, tmp_path / "drive.csv", [HLA], seed=10)
    patient = " ".join(value for header, value in HLA.items() if not header.startswith("C_"))
    [row] = json.loads(run("search", "--hla", patient, "--json").stdout)
    assert (row["code"], row["patient_untyped"], row["loci"]["C"]) == (
        code,
        ["C"],
        ["potential", "potential"],
    )
    human = run("search", "--hla", patient).stdout
    assert "患者未分型位点 C" in human and "not typed at C" in human


def _claimed_case(database_url: str) -> str:
    engine = create_engine(database_url)
    with Session(engine) as session:
        donor, search = add_donor(session), add_search(session)
        assert donor.id is not None
        with transaction(session):
            case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
            claim_case(session=session, case_id=case.id, flow_run_id="a-cancelled-run")
        case_id = case.id
    engine.dispose()
    return case_id


def test_cases_release_frees_a_stuck_case_and_audits_who_why_and_which_run(run: CliRunner) -> None:
    case_id = _claimed_case(run.database_url)
    result = run("cases", "release", case_id, "--reason", "run cancelled in the UI", "--actor", "李老师")
    assert f"case {case_id}" in result.stdout and "a-cancelled-run" in result.stdout
    engine = create_engine(run.database_url)
    with Session(engine) as session:
        case = session.get(DonorCase, case_id)
        event = session.exec(select(StageEvent).where(StageEvent.entity == "claim")).one()
    engine.dispose()
    assert case is not None and case.live_run_id is None
    assert (event.to_state, event.actor, event.reason, event.flow_run_id) == (
        "released",
        "李老师",
        "run cancelled in the UI",
        "a-cancelled-run",
    )
    again = run("cases", "release", case_id, "--reason", "twice", check=False)
    assert again.returncode == 2 and "not claimed" in again.stderr


@pytest.mark.parametrize(
    ("case", "reason", "code", "message"),
    [("no-such-case", "r", 3, "does not exist"), ("{case}", " ", 2, "reason is required")],
    ids=["unknown-case", "empty-reason"],
)
def test_cases_release_refuses_an_unknown_case_or_an_empty_reason_in_one_line(
    run: CliRunner, case: str, reason: str, code: int, message: str
) -> None:
    case_id = _claimed_case(run.database_url)
    result = run("cases", "release", case.format(case=case_id), "--reason", reason, check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code and len(lines) == 1 and message in lines[0], result.stderr
