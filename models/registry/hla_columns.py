"""The names of an HLA typing's fields, defined once: each locus graded (hla.LOCI) at two positions.

Everything else is derived: the typing table's columns (`a_1` … `dpb1_2`), the sign-up sheet's headers
(`A_1` … `DPB1_2`), the high-resolution form's fields (models/cases/forms.py) and the flows' locus
parameter (`hla.Locus`). The table and the form still declare their fields by name, because mypy and
Alembic read declarations; tests/unit/models/registry/test_hla_columns.py holds them to these names.
"""

from __future__ import annotations

import hla

__all__ = [
    "HLA_COLUMNS",
    "HLA_HEADERS",
    "LOCUS_COLUMNS",
    "POSITIONS",
    "column_locus",
    "column_name",
    "column_title",
    "sheet_header",
]

POSITIONS = (1, 2)
"""Two typings per locus, one per haplotype, as the lab writes them (WHO nomenclature strings)."""


def column_name(locus: str, position: int) -> str:
    """The typing table's column (and the form's field) for a locus and position: `drb1_2`."""
    return f"{locus.lower()}_{position}"


def sheet_header(column: str) -> str:
    """The sign-up sheet's header for a typing column: `DRB1_2` (the aliases a sheet may use: intake)."""
    return column.upper()


def column_locus(name: str) -> str:
    """The locus of a typing column or sheet header: `drb1_2` and `DRB1_2` are DRB1."""
    return name.rpartition("_")[0].upper()


def column_title(column: str) -> str:
    """How a form labels a typing column: `DRB1 (2)`."""
    return f"{column_locus(column)} ({column.rpartition('_')[2]})"


LOCUS_COLUMNS: dict[str, tuple[str, ...]] = {
    locus: tuple(column_name(locus, position) for position in POSITIONS) for locus in hla.LOCI
}
HLA_COLUMNS: tuple[str, ...] = tuple(column for columns in LOCUS_COLUMNS.values() for column in columns)
"""The typing table's columns, locus by locus in WMDA order: a_1, a_2, b_1, … dpb1_2."""
HLA_HEADERS: tuple[str, ...] = tuple(sheet_header(column) for column in HLA_COLUMNS)
"""The sign-up sheet's typing headers: A_1, A_2, B_1, … DPB1_2."""
