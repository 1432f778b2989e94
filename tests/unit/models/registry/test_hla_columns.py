"""The HLA typing's names are defined once (models/registry/hla_columns.py); every consumer keeps to them."""

from __future__ import annotations

from typing import get_args

import hla
from flows.screening import initial_screening
from models.cases import HighResResult
from models.cases.forms import StageAnswer
from models.intake.columns import OPTIONAL_COLUMNS, canonical_column
from models.registry import HLA_COLUMNS, HLA_HEADERS, LOCUS_COLUMNS, HlaTyping

_NOT_TYPINGS = {"id", "donor_id", "search_id", "resolution", "lab", "sampled_on", "created_at"}


def test_sheet_headers_and_table_columns_keep_the_names_files_and_the_database_already_use() -> None:
    # The sheet headers are what drives' spreadsheets carry; the columns are the database's (no migration).
    assert HLA_HEADERS == (
        "A_1", "A_2", "B_1", "B_2", "C_1", "C_2", "DRB1_1", "DRB1_2", "DQB1_1", "DQB1_2", "DPB1_1", "DPB1_2",
    )  # fmt: skip
    assert HLA_COLUMNS == tuple(header.lower() for header in HLA_HEADERS)
    assert LOCUS_COLUMNS["DRB1"] == ("drb1_1", "drb1_2")


def test_the_typing_table_declares_exactly_the_typing_columns_in_order() -> None:
    assert [name for name in HlaTyping.model_fields if name not in _NOT_TYPINGS] == list(HLA_COLUMNS)


def test_the_high_res_form_asks_for_every_typing_column_and_requires_the_graded_loci() -> None:
    fields = HighResResult.model_fields
    assert [name for name in fields if name not in StageAnswer.model_fields][2:] == list(HLA_COLUMNS)
    required = [name for name in HLA_COLUMNS if fields[name].is_required()]
    assert required == [c for locus in hla.DEFAULT_LOCI for c in LOCUS_COLUMNS[locus]]
    assert fields["dqb1_2"].title == "DQB1 (2)"


def test_a_sheet_reads_every_typing_header_and_its_aliases() -> None:
    assert set(HLA_HEADERS) <= set(OPTIONAL_COLUMNS)
    assert [canonical_column(alias) for alias in ("HLA-DRB1_2", "drb1-2", "DRB12")] == ["DRB1_2"] * 3


def test_the_screening_flow_offers_the_loci_graded() -> None:
    assert get_args(hla.Locus) == hla.LOCI
    loci = initial_screening.parameters.properties["loci"]
    assert loci["items"]["enum"] == list(hla.LOCI)
