"""The CLI for stuck cases and empty registries: a real process, a real database (both backends)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from donorflow.demo import SIGNUP_HEADER, signup_rows
from tests.databases import BACKENDS, empty_all_tables, fresh_database
from tests.e2e.test_cli import CliRunner

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
