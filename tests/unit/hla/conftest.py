from pathlib import Path

import pytest

from hla import Reference, load_reference

IMGT_DIR = Path(__file__).resolve().parents[2] / "data" / "hla" / "imgt"


@pytest.fixture(scope="session")
def imgt() -> Reference:
    """Small self-made IMGT/HLA, WMDA and NMDP files in their published formats."""
    return load_reference(IMGT_DIR)
