"""The environment `make up` gives the Prefect server and the served deployments (donorflow/up.py)."""

from __future__ import annotations

from pathlib import Path

from donorflow.settings import Settings
from donorflow.up import prefect_env


def test_embedded_sqlite_server_waits_60_seconds_for_a_lock_not_10(tmp_path: Path) -> None:
    env = prefect_env(Settings(var_dir=tmp_path, prefect_port=4321))
    # Prefect's own default is 10 s until its PRAGMA busy_timeout (60 s) runs on the connection.
    assert env["PREFECT_SERVER_DATABASE_TIMEOUT"] == "60"
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_HOME"] == str((tmp_path / "prefect").resolve())


def test_configured_postgresql_database_replaces_the_embedded_sqlite(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://prefect@db.branch.local/prefect"
    env = prefect_env(Settings(var_dir=tmp_path, prefect_database_url=url))
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == url


def test_results_persist_only_where_a_flow_asks_for_it(tmp_path: Path) -> None:
    """A task added later returns what it returns: it is not pickled under the Prefect home by default."""
    env = prefect_env(Settings(var_dir=tmp_path))
    assert env["PREFECT_RESULTS_PERSIST_BY_DEFAULT"] == "false"
