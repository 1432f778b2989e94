"""Shared test settings: no analytics, no network, a salt that is not a secret."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DONORFLOW_ID_SALT", "test-salt-not-secret")
