"""What the app needs from outside, handed in by the composition root (donorflow/bootstrap.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from models.accounts import Throttle
from models.core import SessionFactory, utcnow

__all__ = ["DashboardConfig"]


@dataclass(frozen=True)
class DashboardConfig:
    session_factory: SessionFactory
    secret_key: str  # signs the session cookie; a new key logs everyone out
    https_only: bool = False  # the cookie is Secure: set behind a TLS proxy
    session_max_age: int = 12 * 3600  # seconds a login lasts without a request
    throttle: Throttle = field(default_factory=Throttle)
    prefect_ui_url: str = ""  # the nav's link to the Prefect UI; empty: none
    # Prefect's REST API (…/api): the runs waiting for an answer, starting a deployment. Empty: none
    # (the pages say Prefect is not reachable).
    prefect_api_url: str = ""
    prefect_timeout: float = 10.0  # seconds a Prefect call may take before the page gives up on it
    clock: Callable[[], datetime] = utcnow
