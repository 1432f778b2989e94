"""One Prefect test server for every flow test (it costs ~10 s to start), and a wired database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.3")

from flows import runtime  # noqa: E402
from models.core import make_engine
from models.intake import ImportPolicy
from tests.databases import empty_all_tables, fresh_database  # noqa: E402

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(autouse=True)
def _in_prefect_server(prefect_server: str) -> None:
    """Every flow test talks to the session's one Prefect test server."""


@pytest.fixture(scope="session")
def flow_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("flows")) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def wired(flow_engine: Engine, tmp_path: Path) -> Iterator[Session]:
    """Flows wired to a clean database; yields a session for arranging and checking."""
    empty_all_tables(flow_engine)
    runtime.configure(
        runtime.FlowConfig(
            session_factory=lambda: Session(flow_engine),
            import_policy=ImportPolicy(id_salt=b"flow-tests", batch_size=500),
            inbox_dir=tmp_path / "inbox",
            max_contact_attempts=2,
            pause_timeout_seconds=120,
            pause_poll_seconds=1,
        )
    )
    with Session(flow_engine) as session:
        yield session
