"""`donorflow pipeline pending|relay`: a real process and database; Prefect unreachable loses nothing.

The relay to a live Prefect server runs in tests/e2e/test_relay_deployed.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from models.cases import CaseStage, advance_case, open_case
from models.core import transaction
from tests.databases import fresh_database
from tests.e2e.test_cli import CliRunner
from tests.factories import add_donor, add_search


@pytest.fixture
def run(tmp_path: Path) -> Iterator[CliRunner]:
    with fresh_database("sqlite", tmp_path) as url:
        yield CliRunner(url, tmp_path)


def test_relay_with_prefect_unreachable_emits_nothing_and_keeps_the_event_pending(run: CliRunner) -> None:
    engine = create_engine(run.database_url)
    with Session(engine) as session, transaction(session):
        donor, search = add_donor(session), add_search(session)
        assert donor.id is not None
        case = open_case(session=session, search_id=search.id, donor_id=donor.id, actor="search")
        advance_case(session=session, case_id=case.id, to=CaseStage.REMOBILISING, actor="coordinator:李老师")
    engine.dispose()
    assert json.loads(run("pipeline", "pending", "--json").stdout) == {"pending": 1}

    offline = run.with_env(PREFECT_API_URL="http://127.0.0.1:9/api")  # nothing listens on port 9
    relayed = offline("pipeline", "relay", "--json")
    assert json.loads(relayed.stdout) == {"emitted": 0}
    assert "pipeline events left pending for the next relay" in relayed.stderr
    assert run("pipeline", "pending").stdout.strip() == "待发出 pending: 1"
