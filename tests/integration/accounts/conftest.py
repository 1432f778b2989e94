from __future__ import annotations

import pytest

from tests.dashboard_support import cheap_hashing

__all__ = ["cheap_hashing"]


@pytest.fixture(autouse=True)
def _cheap_hashing_everywhere(cheap_hashing: None) -> None:
    """Every test here hashes with the cheapest argon2id (tests/dashboard_support.py says why)."""
