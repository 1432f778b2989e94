"""Matching members to a patient: genotypes from stored typings, the HLA search index and where it is kept."""

from models.matching.index import (
    IndexStore,
    MatchRow,
    patient_genotype,
    remobilisation_order,
    search_registry,
    typing_columns,
    typing_genotype,
)
from models.matching.store import IndexFile, IndexStorage, SavedIndex, UnusableIndexError, Watermarks

__all__ = [
    "IndexFile",
    "IndexStorage",
    "IndexStore",
    "MatchRow",
    "SavedIndex",
    "UnusableIndexError",
    "Watermarks",
    "patient_genotype",
    "remobilisation_order",
    "search_registry",
    "typing_columns",
    "typing_genotype",
]
