"""Matching members to a patient: genotypes from stored typings and the HLA search index."""

from models.matching.index import (
    IndexStore,
    MatchRow,
    patient_genotype,
    search_registry,
    typing_columns,
    typing_genotype,
)

__all__ = [
    "IndexStore",
    "MatchRow",
    "patient_genotype",
    "search_registry",
    "typing_columns",
    "typing_genotype",
]
