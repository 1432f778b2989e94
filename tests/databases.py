"""Real databases for tests: a fresh SQLite file and a fresh PostgreSQL database per session.

Every integration test runs on both. PostgreSQL comes from DONORFLOW_TEST_POSTGRES_URL (default: the local
server, database `test`); each session creates its own database beside it and drops it afterwards.
With DONORFLOW_TEST_REQUIRE_POSTGRES=1 (make test, CI) an unreachable server fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from donorflow.bootstrap import upgrade_database
from models.core import make_engine

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of a new, migrated, empty database of the given backend; drop it afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / 'donorflow-test.db'}"
        upgrade_database(url)
        yield url
        return
    base = make_url(os.environ.get("DONORFLOW_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    name = f"donorflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("DONORFLOW_TEST_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(f"PostgreSQL is required for the tests but unreachable at {base}") from exc
        pytest.skip(f"PostgreSQL unreachable at {base.render_as_string(hide_password=True)}")
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # A connection a test left idle in a transaction would make TRUNCATE wait forever: fail instead.
            connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


__all__ = ["BACKENDS", "empty_all_tables", "fresh_database", "make_engine"]
