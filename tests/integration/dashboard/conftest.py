"""The dashboard app on the test database (both backends), a clock the tests move, a client that does
not follow redirects (the 303s are what the tests check)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.exceptions import StarletteDeprecationWarning

from dashboard import DashboardConfig, create_app
from tests.dashboard_support import cheap_hashing

with warnings.catch_warnings():  # Starlette 1.x asks for httpx2 behind its TestClient; httpx still works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["Clock", "TestClient", "cheap_hashing"]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _cheap_hashing_everywhere(cheap_hashing: None) -> None:
    """Every test here hashes with the cheapest argon2id (tests/dashboard_support.py says why)."""


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2021, 8, 1, 2, tzinfo=UTC))  # 2021: the default period is that year


@pytest.fixture
def app(engine: Engine, session: Session, clock: Clock) -> FastAPI:
    """`session` first: it empties the tables."""
    return create_app(
        DashboardConfig(session_factory=lambda: Session(engine), secret_key="test-only-secret", clock=clock)
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        yield client
