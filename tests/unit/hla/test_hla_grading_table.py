"""The grading table: one row per rule, each citing where the rule comes from.

Rows: (id, tables?, patient, donor, loci, expected grades per locus in patient order). Patients and
donors are GL strings (``^`` loci, ``+`` the two typings, ``/`` ambiguity) unless a dict of columns.
"""

from __future__ import annotations

from typing import Any

import pytest

from hla import Grade, Reference, grade, parse_genotype

AL, PO, AN, MM = Grade.ALLELE, Grade.POTENTIAL, Grade.ANTIGEN, Grade.MISMATCH
A24 = "A*02:01+A*24:02"  # the patient most rows use

CASES: list[tuple[str, bool, Any, Any, tuple[str, ...], dict[str, tuple[Grade, Grade]]]] = [
    # --- allele / antigen / mismatch by fields (WHO nomenclature: field 1 group, field 2 protein) ---
    ("two-field-equal-is-allele", False, A24, A24, ("A",), {"A": (AL, AL)}),
    (
        "four-field-vs-two-field-same-protein",
        False,
        "A*02:01:01:01+A*24:02",
        "A*02:01+A*24:02:01:01",
        ("A",),
        {"A": (AL, AL)},
    ),
    (
        "third-field-differs-same-protein",
        False,
        "A*02:01:01+A*24:02",
        "A*02:01:02+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    ("donor-order-does-not-matter", False, A24, "A*24:02+A*02:01", ("A",), {"A": (AL, AL)}),
    ("same-group-other-protein-is-antigen", False, A24, "A*02:06+A*24:02", ("A",), {"A": (AN, AL)}),
    (
        "antigen-reported-at-patient-position",
        False,
        "A*24:02+A*02:01",
        "A*02:06+A*24:02",
        ("A",),
        {"A": (AL, AN)},
    ),
    ("other-group-is-mismatch", False, A24, "A*03:01+A*24:02", ("A",), {"A": (MM, AL)}),
    ("two-mismatches", False, "A*01:01+A*03:01", "A*11:01+A*23:01", ("A",), {"A": (MM, MM)}),
    (
        "best-pairing-prefers-antigen-over-mismatch",
        False,
        "A*02:01+A*03:01",
        "A*11:01+A*02:05",
        ("A",),
        {"A": (AN, MM)},
    ),
    # --- homozygosity (WMDA: one reported typing = homozygous) ---
    ("homozygous-donor-matches-one", False, A24, "A*02:01", ("A",), {"A": (AL, MM)}),
    ("homozygous-patient-vs-heterozygous-donor", False, "A*02:01", A24, ("A",), {"A": (AL, MM)}),
    ("both-homozygous-same", False, "A*02:01", {"A": ("A*02:01", None)}, ("A",), {"A": (AL, AL)}),
    # --- low resolution and ambiguity (WMDA framework: consistent but unconfirmed = potential) ---
    ("donor-group-only-is-potential", False, A24, "A*02+A*24:02", ("A",), {"A": (PO, AL)}),
    ("donor-xx-code-is-potential", False, A24, "A*02:XX+A*24:02", ("A",), {"A": (PO, AL)}),
    ("donor-xx-other-group-is-mismatch", False, A24, "A*03:XX+A*24:02", ("A",), {"A": (MM, AL)}),
    ("patient-group-only-is-potential", False, "A*02+A*24:02", A24, ("A",), {"A": (PO, AL)}),
    ("ambiguity-including-patient-allele", False, A24, "A*02:01/02:06+A*24:02", ("A",), {"A": (PO, AL)}),
    ("ambiguity-with-locus-on-each-part", False, A24, "A*02:01/A*02:06+A*24:02", ("A",), {"A": (PO, AL)}),
    ("ambiguity-excluding-patient-allele", False, A24, "A*02:02/02:06+A*24:02", ("A",), {"A": (AN, AL)}),
    (
        "ambiguity-same-protein-is-allele",
        False,
        A24,
        "A*02:01:01:01/02:01:02+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    (
        "both-ambiguous-overlapping",
        False,
        "A*02:01/02:02+A*24:02",
        "A*02:02/02:06+A*24:02",
        ("A",),
        {"A": (PO, AL)},
    ),
    # --- serology without tables: compared by allele group (A2 = A*02) ---
    ("serology-no-tables-by-group", False, A24, "A2+A24", ("A",), {"A": (PO, PO)}),
    ("serology-no-tables-broad-not-resolved", False, "A*24:02+A*02:01", "A9+A2", ("A",), {"A": (MM, PO)}),
    ("serology-no-tables-b60-is-group-60", False, "B*40:01+B*46:01", "B60+B46", ("B",), {"B": (MM, PO)}),
    ("serology-dr15", False, "DRB1*15:01+DRB1*09:01", "DR15+DRB1*09:01", ("DRB1",), {"DRB1": (PO, AL)}),
    # --- null alleles (WMDA/ATLAS: a null is absent, the locus is homozygous for the other typing) ---
    ("donor-null-vs-patient-expressed-is-mismatch", False, A24, "A*02:01+A*24:09N", ("A",), {"A": (AL, MM)}),
    ("donor-null-vs-homozygous-patient", False, "A*02:01", "A*02:01+A*24:09N", ("A",), {"A": (AL, AL)}),
    (
        "patient-null-matched-by-homozygous-donor",
        False,
        "A*02:01+A*24:09N",
        "A*02:01",
        ("A",),
        {"A": (AL, AL)},
    ),
    ("patient-null-vs-heterozygous-donor", False, "A*02:01+A*24:09N", A24, ("A",), {"A": (AL, MM)}),
    ("same-null-both-sides", False, "A*02:01+A*24:09N", "A*24:09N+A*02:01", ("A",), {"A": (AL, AL)}),
    ("null-inside-ambiguity-ignored", False, A24, "A*24:09N/24:02+A*02:01", ("A",), {"A": (AL, AL)}),
    ("low-expression-l-is-expressed", False, "A*02:01:01:02L+A*24:02", A24, ("A",), {"A": (AL, AL)}),
    # --- input shapes: GL strings, columns, untyped loci ---
    (
        "gl-string-two-loci",
        False,
        "A*02:01+A*24:02^B*40:01+B*46:01",
        "A*02:01+A*24:02^B*40:01+B*46:02",
        ("A", "B"),
        {"A": (AL, AL), "B": (AL, AN)},
    ),
    ("locus-inferred-from-column", False, A24, {"A": ("02:01", "24:02")}, ("A",), {"A": (AL, AL)}),
    (
        "donor-untyped-locus-is-potential",
        False,
        "A*02:01+A*24:02^C*07:02+C*01:02",
        A24,
        ("A", "C"),
        {"A": (AL, AL), "C": (PO, PO)},
    ),
    # --- IMGT P groups (WMDA: allele match = same P group when tables are loaded) ---
    ("p-group-makes-allele", True, A24, "A*02:09+A*24:02", ("A",), {"A": (AL, AL)}),
    ("p-group-off-without-tables", False, A24, "A*02:09+A*24:02", ("A",), {"A": (AN, AL)}),
    ("not-in-same-p-group-is-antigen", True, A24, "A*02:02+A*24:02", ("A",), {"A": (AN, AL)}),
    ("p-group-across-second-field", True, A24, "A*02:01+A*24:03", ("A",), {"A": (AL, AL)}),
    ("g-group-typing-resolves-to-p", True, A24, "A*02:01:01G+A*24:02", ("A",), {"A": (AL, AL)}),
    ("p-group-typing", True, "A*02:09+A*24:02", "A*02:01P+A*24:02", ("A",), {"A": (AL, AL)}),
    # --- NMDP multiple allele codes (NMDP MAC: generic codes list second fields) ---
    ("mac-including-patient-allele", True, A24, "A*02:AB+A*24:02", ("A",), {"A": (PO, AL)}),
    ("mac-excluding-patient-allele", True, "A*02:02+A*24:02", "A*02:AF+A*24:02", ("A",), {"A": (AN, AL)}),
    ("mac-allele-specific-code", True, "A*24:02+A*02:06", "A*24:XYZ+A*02:06", ("A",), {"A": (PO, AL)}),
    ("mac-null-member-ignored", True, A24, "A*24:NUL+A*02:01", ("A",), {"A": (AL, AL)}),
    ("mac-only-null-is-null", True, A24, "A*24:NIL+A*02:01", ("A",), {"A": (AL, MM)}),
    ("allele-list-infers-missing-n", True, A24, "A*02:01+A*24:09", ("A",), {"A": (AL, MM)}),
    # --- serology with WMDA tables (rel_dna_ser + rel_ser_ser: splits and broads) ---
    ("broad-a9-covers-split-a24", True, "A*24:02+A*02:01", "A9+A*02:01", ("A",), {"A": (PO, AL)}),
    ("split-a23-does-not-cover-a24", True, "A*24:02+A*02:01", "A23+A*02:01", ("A",), {"A": (MM, AL)}),
    ("b60-is-b40-01-with-tables", True, "B*40:01+B*46:01", "B60+B46", ("B",), {"B": (PO, PO)}),
    ("b60-is-not-b61", True, "B*40:02+B*46:01", "B60+B46", ("B",), {"B": (AN, PO)}),
    ("dr2-broad-covers-dr16", True, "DRB1*16:01+DRB1*15:02", "DR2+DR15", ("DRB1",), {"DRB1": (PO, PO)}),
    ("associated-antigen-a2403-in-a24", True, "A*24:03+A*02:01", "A24+A*02:01", ("A",), {"A": (PO, AL)}),
]


@pytest.mark.parametrize(
    ("case", "tables", "patient", "donor", "loci", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_grading_table(
    case: str,
    tables: bool,
    patient: Any,
    donor: Any,
    loci: tuple[str, ...],
    expected: dict[str, tuple[Grade, Grade]],
    imgt: Reference,
) -> None:
    reference = imgt if tables else None
    result = grade(parse_genotype(patient, reference), parse_genotype(donor, reference), loci)
    assert result.by_locus == expected, case


def test_table_has_forty_cases_with_unique_ids() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
