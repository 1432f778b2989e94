"""Shared test settings: no analytics, no network, a salt that is not a secret."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DONORFLOW_ID_SALT", "test-salt-not-secret")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One Prefect test server for the whole session (~10 s to start); yields its API URL.

    Imported lazily: `import prefect` costs seconds that unit tests should not pay.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())
