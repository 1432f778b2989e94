"""Matching members to a patient: genotypes from stored typings, the HLA search index and where it is kept."""

from models.matching.index import (
    IndexStore,
    MatchRow,
    hla_tables,
    patient_genotype,
    remobilisation_order,
    search_registry,
    typing_columns,
    typing_genotype,
    use_hla_reference,
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
    "hla_tables",
    "patient_genotype",
    "remobilisation_order",
    "search_registry",
    "typing_columns",
    "typing_genotype",
    "use_hla_reference",
]
