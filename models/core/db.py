"""Engine, sessions and the column types every table shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from models.core.errors import BusyError

__all__ = [
    "Session",
    "SessionFactory",
    "UtcDateTime",
    "make_engine",
    "transaction",
    "unit_of_work",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python, UTC in the database (STYLE.md: stored in UTC, shown in Asia/Shanghai).

    SQLite has no timezone type, so values are normalised to UTC and re-tagged on the way out; a naive
    datetime is refused rather than silently taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while an import writes; busy_timeout turns "database is locked" into a wait.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """One engine per process; SQLite gets WAL and a busy timeout, PostgreSQL a pre-ping pool."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


# The session type the callers hold: flows pass it to services without importing SQLAlchemy themselves.
SessionFactory = Callable[[], Session]


# PostgreSQL's "deadlock detected" and "could not serialize access": the transaction was rolled back.
_TRY_AGAIN = frozenset({"40P01", "40001"})


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """The caller's unit of work on an open session: commit everything the block wrote, or nothing.

    Only callers open one (a flow step, a CLI command, the demo loader, a test): services never commit;
    they add, flush and raise, so a step that fails after its first write leaves nothing behind.
    """
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        if getattr(exc.orig, "sqlstate", None) in _TRY_AGAIN:
            # Two writers took the same rows' locks in opposite orders (the audit tallies' rows, say:
            # models/core/tally.py) and PostgreSQL rolled this one back. Not chained: the driver's text
            # names rows and processes, and the caller only needs to know to try again.
            raise BusyError(
                "数据库繁忙，本次操作未保存，请重试 the database was busy with another change: "
                "nothing was saved, try again"
            ) from None
        raise
    except BaseException:
        session.rollback()
        raise


@contextmanager
def unit_of_work(session_factory: SessionFactory) -> Iterator[Session]:
    """A fresh session and its transaction for one use case: `with unit_of_work(factory) as session:`."""
    with session_factory() as session, transaction(session):
        yield session
