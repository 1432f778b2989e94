from pathlib import Path

import pytest

from hla import Reference, load_reference
from hla.reference import SHIPPED_DIR

IMGT_DIR = Path(__file__).resolve().parents[2] / "data" / "hla" / "imgt"


@pytest.fixture(scope="session")
def imgt() -> Reference:
    """Small self-made IMGT/HLA, WMDA and NMDP files in their published formats."""
    return load_reference(IMGT_DIR)


@pytest.fixture(scope="session")
def shipped() -> Reference:
    """The IPD-IMGT/HLA release shipped in the package (hla/data), with the test excerpt's NMDP codes
    (the full MAC table is imported by a registry, not shipped)."""
    return load_reference(SHIPPED_DIR, mac_file=IMGT_DIR / "numer.v3.txt")
