"""The grading table: one row per rule, each citing where the rule comes from.

Rows: (id, tables, patient, donor, loci, expected grades per locus in patient order). ``tables``: NONE
(syntax only), SHIPPED (the IPD-IMGT/HLA release in hla/data, what donorflow loads by default, with
the test excerpt's NMDP codes) or EXCERPT (the self-made files in tests/data/hla/imgt, for a rule the
real tables have no clean case of). Patients and donors are GL strings (``^`` loci, ``+`` the two
typings, ``/`` ambiguity) unless a dict of columns. DETAILS adds, for some rows, the rule that decided
each position and the null flags (issue 13 items 2 and 4).
"""

from __future__ import annotations

from typing import Any

import pytest

from hla import Grade, Reference, grade, parse_genotype
from hla.grading import Dpb1Tce, Level, MatchConfidence, NullMatch, Rule

AL, PO, AN, MM = Grade.ALLELE, Grade.POTENTIAL, Grade.ANTIGEN, Grade.MISMATCH
DEF, EXA, POT, MIS = (
    MatchConfidence.DEFINITE,
    MatchConfidence.EXACT,
    MatchConfidence.POTENTIAL,
    MatchConfidence.MISMATCH,
)
EVN, NVN, MAYBE = NullMatch.EXPRESSED_VS_NULL, NullMatch.NULL_VS_NULL, NullMatch.POSSIBLY_NULL
NONE, SHIPPED, EXCERPT = "none", "shipped", "excerpt"
A24 = "A*02:01+A*24:02"  # the patient most rows use

CASES: list[tuple[str, str, Any, Any, tuple[str, ...], dict[str, tuple[Grade, Grade]]]] = [
    # --- allele / antigen / mismatch by fields (WHO nomenclature: field 1 group, field 2 protein) ---
    ("two-field-equal-is-allele", NONE, A24, A24, ("A",), {"A": (AL, AL)}),
    (
        "four-field-vs-two-field-same-protein",
        NONE,
        "A*02:01:01:01+A*24:02",
        "A*02:01+A*24:02:01:01",
        ("A",),
        {"A": (AL, AL)},
    ),
    (
        "third-field-differs-same-protein",
        NONE,
        "A*02:01:01+A*24:02",
        "A*02:01:02+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    ("donor-order-does-not-matter", NONE, A24, "A*24:02+A*02:01", ("A",), {"A": (AL, AL)}),
    ("same-group-other-protein-is-antigen", NONE, A24, "A*02:06+A*24:02", ("A",), {"A": (AN, AL)}),
    (
        "antigen-reported-at-patient-position",
        NONE,
        "A*24:02+A*02:01",
        "A*02:06+A*24:02",
        ("A",),
        {"A": (AL, AN)},
    ),
    ("other-group-is-mismatch", NONE, A24, "A*03:01+A*24:02", ("A",), {"A": (MM, AL)}),
    ("two-mismatches", NONE, "A*01:01+A*03:01", "A*11:01+A*23:01", ("A",), {"A": (MM, MM)}),
    (
        "best-pairing-prefers-antigen-over-mismatch",
        NONE,
        "A*02:01+A*03:01",
        "A*11:01+A*02:05",
        ("A",),
        {"A": (AN, MM)},
    ),
    # --- homozygosity (WMDA: one reported typing = homozygous) ---
    ("homozygous-donor-matches-one", NONE, A24, "A*02:01", ("A",), {"A": (AL, MM)}),
    ("homozygous-patient-vs-heterozygous-donor", NONE, "A*02:01", A24, ("A",), {"A": (AL, MM)}),
    ("both-homozygous-same", NONE, "A*02:01", {"A": ("A*02:01", None)}, ("A",), {"A": (AL, AL)}),
    # --- low resolution and ambiguity (WMDA framework: consistent but unconfirmed = potential) ---
    ("donor-group-only-is-potential", NONE, A24, "A*02+A*24:02", ("A",), {"A": (PO, AL)}),
    ("donor-xx-code-is-potential", NONE, A24, "A*02:XX+A*24:02", ("A",), {"A": (PO, AL)}),
    ("donor-xx-other-group-is-mismatch", NONE, A24, "A*03:XX+A*24:02", ("A",), {"A": (MM, AL)}),
    ("patient-group-only-is-potential", NONE, "A*02+A*24:02", A24, ("A",), {"A": (PO, AL)}),
    ("ambiguity-including-patient-allele", NONE, A24, "A*02:01/02:06+A*24:02", ("A",), {"A": (PO, AL)}),
    ("ambiguity-with-locus-on-each-part", NONE, A24, "A*02:01/A*02:06+A*24:02", ("A",), {"A": (PO, AL)}),
    ("ambiguity-excluding-patient-allele", NONE, A24, "A*02:02/02:06+A*24:02", ("A",), {"A": (AN, AL)}),
    (
        "ambiguity-same-protein-is-allele",
        NONE,
        A24,
        "A*02:01:01:01/02:01:02+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    (
        "both-ambiguous-overlapping",
        NONE,
        "A*02:01/02:02+A*24:02",
        "A*02:02/02:06+A*24:02",
        ("A",),
        {"A": (PO, AL)},
    ),
    # --- serology without tables: compared by allele group (A2 = A*02) ---
    ("serology-no-tables-by-group", NONE, A24, "A2+A24", ("A",), {"A": (PO, PO)}),
    ("serology-no-tables-broad-not-resolved", NONE, "A*24:02+A*02:01", "A9+A2", ("A",), {"A": (MM, PO)}),
    ("serology-no-tables-b60-is-group-60", NONE, "B*40:01+B*46:01", "B60+B46", ("B",), {"B": (MM, PO)}),
    ("serology-dr15", NONE, "DRB1*15:01+DRB1*09:01", "DR15+DRB1*09:01", ("DRB1",), {"DRB1": (PO, AL)}),
    # --- null alleles (WMDA/ATLAS: a null is absent, the locus is homozygous for the other typing) ---
    ("donor-null-vs-patient-expressed-is-mismatch", NONE, A24, "A*02:01+A*24:09N", ("A",), {"A": (AL, MM)}),
    ("donor-null-vs-homozygous-patient", NONE, "A*02:01", "A*02:01+A*24:09N", ("A",), {"A": (AL, AL)}),
    (
        "patient-null-matched-by-homozygous-donor",
        NONE,
        "A*02:01+A*24:09N",
        "A*02:01",
        ("A",),
        {"A": (AL, AL)},
    ),
    ("patient-null-vs-heterozygous-donor", NONE, "A*02:01+A*24:09N", A24, ("A",), {"A": (AL, MM)}),
    ("same-null-both-sides", NONE, "A*02:01+A*24:09N", "A*24:09N+A*02:01", ("A",), {"A": (AL, AL)}),
    ("null-inside-ambiguity-ignored", NONE, A24, "A*24:09N/24:02+A*02:01", ("A",), {"A": (AL, AL)}),
    ("low-expression-l-is-expressed", NONE, "A*02:01:01:02L+A*24:02", A24, ("A",), {"A": (AL, AL)}),
    # --- input shapes: GL strings, columns, untyped loci ---
    (
        "gl-string-two-loci",
        NONE,
        "A*02:01+A*24:02^B*40:01+B*46:01",
        "A*02:01+A*24:02^B*40:01+B*46:02",
        ("A", "B"),
        {"A": (AL, AL), "B": (AL, AN)},
    ),
    ("locus-inferred-from-column", NONE, A24, {"A": ("02:01", "24:02")}, ("A",), {"A": (AL, AL)}),
    (
        "donor-untyped-locus-is-potential",
        NONE,
        "A*02:01+A*24:02^C*07:02+C*01:02",
        A24,
        ("A", "C"),
        {"A": (AL, AL), "C": (PO, PO)},
    ),
    # Issue 13 item 7: the patient untyped at a requested locus is searched, potential at both positions
    # (WMDA matching framework: an untyped locus is neither a match nor a mismatch), with a warning.
    (
        "patient-untyped-locus-is-potential",
        SHIPPED,
        A24,
        "A*02:01+A*24:02^C*07:02+C*01:02",
        ("A", "C"),
        {"A": (AL, AL), "C": (PO, PO)},
    ),
    # Issue 13 item 5: the WMDA level that decided (WHO nomenclature: field 4 is a non-coding, field 3
    # a synonymous difference; so four equal fields are the same gDNA, three the same cDNA) and ATLAS's
    # confidence (MatchConfidences.feature: unambiguous typings match "definite"; a patient typed to one
    # allele against a donor typed to a single P group match "exact").
    (
        "level-gdna-four-fields-equal",
        SHIPPED,
        "A*02:01:01:01+A*24:02",
        "A*02:01:01:01+A*24:02:01:01",
        ("A",),
        {"A": (AL, AL)},
    ),
    (
        "level-cdna-fourth-field-differs",
        SHIPPED,
        "A*02:01:01:01+A*24:02",
        "A*02:01:01:02L+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    ("atlas-exact-donor-single-p-group", SHIPPED, A24, "A*02:01P+A*24:02", ("A",), {"A": (AL, AL)}),
    # Issue 13 item 6: DPB1 TCE groups (IPD-IMGT/HLA tce/dpb_tce.csv, V2; Fleischhauer et al. 2012,
    # Crivello et al. 2016): 09:01 is group 1, 03:01 group 2, 02:01/04:01/04:02 group 3. A mismatch is
    # permissive when both sides' most immunogenic group is the same, else non-permissive towards the
    # side with the more immunogenic one. The grades are unchanged.
    (
        "dpb1-tce-permissive",
        SHIPPED,
        "DPB1*04:01+DPB1*02:01",
        "DPB1*04:01+DPB1*04:02",
        ("DPB1",),
        {"DPB1": (AL, MM)},
    ),
    (
        "dpb1-tce-non-permissive-gvh",
        SHIPPED,
        "DPB1*09:01+DPB1*04:01",
        "DPB1*04:01+DPB1*03:01",
        ("DPB1",),
        {"DPB1": (MM, AL)},
    ),
    (
        "dpb1-tce-non-permissive-hvg",
        SHIPPED,
        "DPB1*04:01+DPB1*02:01",
        "DPB1*04:01+DPB1*09:01",
        ("DPB1",),
        {"DPB1": (AL, MM)},
    ),
    (
        "dpb1-tce-no-mismatch",
        SHIPPED,
        "DPB1*04:01+DPB1*02:01",
        "DPB1*02:01+DPB1*04:01",
        ("DPB1",),
        {"DPB1": (AL, AL)},
    ),
    (
        "dpb1-tce-unknown-at-low-resolution",
        SHIPPED,
        "DPB1*04:01+DPB1*02:01",
        "DPB1*04:01+DPB1*10",
        ("DPB1",),
        {"DPB1": (AL, MM)},
    ),
    # --- IMGT P groups (WMDA: allele match = same P group when tables are loaded) ---
    ("p-group-makes-allele", SHIPPED, A24, "A*02:09+A*24:02", ("A",), {"A": (AL, AL)}),
    ("p-group-off-without-tables", NONE, A24, "A*02:09+A*24:02", ("A",), {"A": (AN, AL)}),
    ("not-in-same-p-group-is-antigen", SHIPPED, A24, "A*02:02+A*24:02", ("A",), {"A": (AN, AL)}),
    # Self-made: the excerpt puts A*24:03 in 24:02's P group; in the real tables it is A2403 (below).
    ("p-group-across-second-field", EXCERPT, A24, "A*02:01+A*24:03", ("A",), {"A": (AL, AL)}),
    ("g-group-typing-resolves-to-p", SHIPPED, A24, "A*02:01:01G+A*24:02", ("A",), {"A": (AL, AL)}),
    ("p-group-typing", SHIPPED, "A*02:09+A*24:02", "A*02:01P+A*24:02", ("A",), {"A": (AL, AL)}),
    # --- NMDP multiple allele codes (NMDP MAC: generic codes list second fields) ---
    ("mac-including-patient-allele", SHIPPED, A24, "A*02:AB+A*24:02", ("A",), {"A": (PO, AL)}),
    ("mac-excluding-patient-allele", SHIPPED, "A*02:02+A*24:02", "A*02:AF+A*24:02", ("A",), {"A": (AN, AL)}),
    ("mac-allele-specific-code", SHIPPED, "A*24:02+A*02:06", "A*24:XYZ+A*02:06", ("A",), {"A": (PO, AL)}),
    ("mac-null-member-ignored", SHIPPED, A24, "A*24:NUL+A*02:01", ("A",), {"A": (AL, AL)}),
    ("mac-only-null-is-null", SHIPPED, A24, "A*24:NIL+A*02:01", ("A",), {"A": (AL, MM)}),
    ("allele-list-infers-missing-n", SHIPPED, A24, "A*02:01+A*24:09", ("A",), {"A": (AL, MM)}),
    # --- serology with WMDA tables (rel_dna_ser + rel_ser_ser: splits and broads) ---
    ("broad-a9-covers-split-a24", SHIPPED, "A*24:02+A*02:01", "A9+A*02:01", ("A",), {"A": (PO, AL)}),
    ("split-a23-does-not-cover-a24", SHIPPED, "A*24:02+A*02:01", "A23+A*02:01", ("A",), {"A": (MM, AL)}),
    ("b60-is-b40-01-with-tables", SHIPPED, "B*40:01+B*46:01", "B60+B46", ("B",), {"B": (PO, PO)}),
    # B*40:02 is B61 (rel_dna_ser); B60 and B61 are different splits of B40 (rel_ser_ser): an antigen
    # mismatch under the WMDA framework. Graded antigen (same field 1) before serology decided.
    ("b60-is-not-b61", SHIPPED, "B*40:02+B*46:01", "B60+B46", ("B",), {"B": (MM, PO)}),
    ("dr2-broad-covers-dr16", SHIPPED, "DRB1*16:01+DRB1*15:02", "DR2+DR15", ("DRB1",), {"DRB1": (PO, PO)}),
    ("associated-antigen-a2403-in-a24", SHIPPED, "A*24:03+A*02:01", "A24+A*02:01", ("A",), {"A": (PO, AL)}),
    # --- issue 13 item 1: the shipped tables by default (IPD-IMGT/HLA 3.58.0) ---
    # WMDA rel_ser_ser: B16 is the broad of B38 and B39, so a B16 donor may carry B*38:01.
    ("shipped-b16-covers-b38", SHIPPED, "B*38:01+B*44:02", "B16+B44", ("B",), {"B": (PO, PO)}),
    # WMDA hla_nom.txt: A*02:01:08 was renamed A*02:1040 (2022); an old typing is read as the new name.
    (
        "renamed-allele-read-as-current-name",
        SHIPPED,
        "A*02:1040+A*24:02",
        "A*02:01:08+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    # IPD-IMGT/HLA Nomenclature_2009.txt: a typing recorded before the April 2010 colons.
    (
        "pre-2010-name-read-as-2010-name",
        SHIPPED,
        "A*02:01+A*24:02^B*15:01+B*44:02",
        "A*0201+A*2402^B*1501+B*4402",
        ("A", "B"),
        {"A": (AL, AL), "B": (AL, AL)},
    ),
    # WMDA hla_nom_p: A*02:01 and A*02:09 share the 02:01P antigen-recognition domain.
    (
        "shipped-p-group-is-allele",
        SHIPPED,
        "A*02:01:01:01+A*24:02",
        "A*02:09+A*24:02",
        ("A",),
        {"A": (AL, AL)},
    ),
    # --- issue 13 item 2: antigen level by serology (WMDA matching framework: the antigen level is the
    # serological antigen; rel_dna_ser assigns it, rel_ser_ser relates broads, splits, associated) ---
    (
        "b15-family-b62-vs-b75-is-antigen-mismatch",
        SHIPPED,
        "B*15:01+B*44:02",
        "B*15:02+B*44:02",
        ("B",),
        {"B": (MM, AL)},
    ),
    ("b15-family-same-antigen-b62", SHIPPED, "B*15:01+B*44:02", "B*15:04+B*44:02", ("B",), {"B": (AN, AL)}),
    (
        "b15-family-b70-broad-vs-b72-split",
        SHIPPED,
        "B*15:09+B*44:02",
        "B*15:03+B*44:02",
        ("B",),
        {"B": (AN, AL)},
    ),
    ("b3901-associated-with-b39", SHIPPED, "B*39:01+B*44:02", "B*39:06+B*44:02", ("B",), {"B": (AN, AL)}),
    (
        "b3901-vs-b3902-is-antigen-mismatch",
        SHIPPED,
        "B*39:01+B*44:02",
        "B*39:02+B*44:02",
        ("B",),
        {"B": (MM, AL)},
    ),
    ("a2403-associated-with-a24", SHIPPED, A24, "A*02:01+A*24:03", ("A",), {"A": (AL, AN)}),
    (
        "cw9-vs-cw10-is-antigen-mismatch",
        SHIPPED,
        "C*03:03+C*07:02",
        "C*03:04+C*07:02",
        ("C",),
        {"C": (MM, AL)},
    ),
    (
        "serology-typing-b62-excludes-b75-allele",
        SHIPPED,
        "B*15:02+B*44:02",
        "B62+B44",
        ("B",),
        {"B": (MM, PO)},
    ),
    # DPB1 has no assigned serology in rel_dna_ser ("?"): the first field decides.
    (
        "no-serology-falls-back-to-first-field",
        SHIPPED,
        "DPB1*04:01+DPB1*02:01",
        "DPB1*04:02+DPB1*02:01",
        ("DPB1",),
        {"DPB1": (AN, AL)},
    ),
    (
        "no-serology-other-first-field-mismatch",
        SHIPPED,
        "DPB1*04:01+DPB1*02:01",
        "DPB1*03:01+DPB1*02:01",
        ("DPB1",),
        {"DPB1": (MM, AL)},
    ),
    ("no-tables-first-field-as-before", NONE, "B*15:01+B*44:02", "B*15:02+B*44:02", ("B",), {"B": (AN, AL)}),
    # --- issue 13 item 3: abbreviated allele strings (WHO/NMDP allele strings of subtypes; ATLAS
    # AlleleStringOfSubtypes): A*01:01/03 is A*01:01/A*01:03, never "or the A*03 group" ---
    (
        "abbreviated-string-is-not-another-group",
        SHIPPED,
        "A*03:01+A*02:01",
        "A*01:01/03+A*02:01",
        ("A",),
        {"A": (MM, AL)},
    ),
    ("abbreviated-string-no-tables", NONE, "A*03:01+A*02:01", "A*01:01/03+A*02:01", ("A",), {"A": (MM, AL)}),
    (
        "abbreviated-string-includes-patient-allele",
        SHIPPED,
        "A*01:03+A*02:01",
        "A*01:01/03+A*02:01",
        ("A",),
        {"A": (PO, AL)},
    ),
    (
        "abbreviated-string-with-null",
        SHIPPED,
        "A*01:01+A*02:01",
        "A*01:01/04N+A*02:01",
        ("A",),
        {"A": (AL, AL)},
    ),
    # --- issue 13 item 4: nulls visible (ATLAS NullAlleles/MatchGrade.feature: "molecular-match in
    # position 1 and expressing-vs-null in position 2"; WMDA/ATLAS null rule unchanged) ---
    ("atlas-expressing-vs-null-matched", SHIPPED, "C*01:02+C*02:52N", "C*01:02", ("C",), {"C": (AL, AL)}),
    ("atlas-expressing-vs-null-mismatched", SHIPPED, "C*01:10+C*02:52N", "C*01:02", ("C",), {"C": (AN, AN)}),
    ("donor-null-opposite-patient-protein", SHIPPED, A24, "A*02:01+A*24:09N", ("A",), {"A": (AL, MM)}),
    # ATLAS NullAlleles.feature "Same expressing allele, different null allele": the donor is a match.
    ("null-vs-other-null", SHIPPED, "A*02:01+A*24:09N", "A*01:04:01:01N+A*02:01", ("A",), {"A": (AL, AL)}),
]

# Rules that decided and null flags, per locus in patient order (issue 13 items 2 and 4).
DETAILS: dict[str, dict[str, Any]] = {
    "p-group-makes-allele": {
        "rules": {"A": (Rule.SAME_P_GROUP, Rule.SAME_P_GROUP)},
        "levels": {"A": (Level.P_GROUP, Level.PROTEIN)},  # 02:01 vs 02:09: other protein, same P group
        "confidences": {"A": (DEF, DEF)},
    },
    "level-gdna-four-fields-equal": {
        "levels": {"A": (Level.GDNA, Level.PROTEIN)},
        "confidences": {"A": (DEF, DEF)},
    },
    "level-cdna-fourth-field-differs": {
        "levels": {"A": (Level.CDNA, Level.PROTEIN)},
        "confidences": {"A": (DEF, DEF)},
    },
    "atlas-exact-donor-single-p-group": {
        "levels": {"A": (Level.P_GROUP, Level.PROTEIN)},
        "confidences": {"A": (EXA, DEF)},
    },
    "third-field-differs-same-protein": {"levels": {"A": (Level.PROTEIN, Level.PROTEIN)}},
    "shipped-b16-covers-b38": {
        "rules": {"B": (Rule.CONSISTENT, Rule.CONSISTENT)},
        "levels": {"B": (Level.SEROLOGY, Level.SEROLOGY)},
        "confidences": {"B": (POT, POT)},
    },
    # Without tables DR15 is read as the DRB1*15 group: consistent at the first field.
    "serology-dr15": {
        "levels": {"DRB1": (Level.FIRST_FIELD, Level.PROTEIN)},
        "confidences": {"DRB1": (POT, DEF)},
    },
    "two-field-equal-is-allele": {"rules": {"A": (Rule.SAME_PROTEIN, Rule.SAME_PROTEIN)}},
    "b60-is-not-b61": {"rules": {"B": (Rule.ANTIGEN_MISMATCH, Rule.CONSISTENT)}},
    "b15-family-b62-vs-b75-is-antigen-mismatch": {
        "rules": {"B": (Rule.ANTIGEN_MISMATCH, Rule.SAME_P_GROUP)},
        "levels": {"B": (Level.SEROLOGY, Level.PROTEIN)},
        "confidences": {"B": (MIS, DEF)},
    },
    "b15-family-same-antigen-b62": {"rules": {"B": (Rule.SAME_ANTIGEN, Rule.SAME_P_GROUP)}},
    "b15-family-b70-broad-vs-b72-split": {
        "rules": {"B": (Rule.BROAD_SPLIT, Rule.SAME_P_GROUP)},
        "levels": {"B": (Level.SEROLOGY_BROAD, Level.PROTEIN)},
        "confidences": {"B": (MIS, DEF)},
    },
    "b3901-associated-with-b39": {
        "rules": {"B": (Rule.ASSOCIATED_ANTIGEN, Rule.SAME_P_GROUP)},
        "levels": {"B": (Level.SEROLOGY_ASSOCIATED, Level.PROTEIN)},
        "confidences": {"B": (MIS, DEF)},
    },
    "b3901-vs-b3902-is-antigen-mismatch": {"rules": {"B": (Rule.ANTIGEN_MISMATCH, Rule.SAME_P_GROUP)}},
    "a2403-associated-with-a24": {"rules": {"A": (Rule.SAME_P_GROUP, Rule.ASSOCIATED_ANTIGEN)}},
    "no-serology-falls-back-to-first-field": {
        "rules": {"DPB1": (Rule.FIRST_FIELD, Rule.SAME_P_GROUP)},
        "levels": {"DPB1": (Level.FIRST_FIELD, Level.PROTEIN)},
    },
    "no-serology-other-first-field-mismatch": {
        "rules": {"DPB1": (Rule.FIRST_FIELD_MISMATCH, Rule.SAME_P_GROUP)}
    },
    "no-tables-first-field-as-before": {"rules": {"B": (Rule.FIRST_FIELD, Rule.SAME_PROTEIN)}},
    "donor-untyped-locus-is-potential": {
        "rules": {"A": (Rule.SAME_PROTEIN, Rule.SAME_PROTEIN), "C": (Rule.UNTYPED, Rule.UNTYPED)}
    },
    "dpb1-tce-permissive": {"dpb1_tce": Dpb1Tce.PERMISSIVE},
    "dpb1-tce-non-permissive-gvh": {"dpb1_tce": Dpb1Tce.NON_PERMISSIVE_GVH},
    "dpb1-tce-non-permissive-hvg": {"dpb1_tce": Dpb1Tce.NON_PERMISSIVE_HVG},
    "dpb1-tce-no-mismatch": {"dpb1_tce": Dpb1Tce.NO_MISMATCH},
    "dpb1-tce-unknown-at-low-resolution": {"dpb1_tce": Dpb1Tce.UNKNOWN},
    "patient-untyped-locus-is-potential": {
        "rules": {"A": (Rule.SAME_P_GROUP, Rule.SAME_P_GROUP), "C": (Rule.UNTYPED, Rule.UNTYPED)},
        "patient_untyped": ("C",),
        "levels": {"A": (Level.PROTEIN, Level.PROTEIN), "C": (Level.UNTYPED, Level.UNTYPED)},
        "confidences": {"A": (DEF, DEF), "C": (POT, POT)},
    },
    "donor-null-vs-patient-expressed-is-mismatch": {"nulls": {"A": (None, EVN)}},
    "patient-null-vs-heterozygous-donor": {"nulls": {"A": (None, EVN)}},
    "mac-only-null-is-null": {"nulls": {"A": (None, EVN)}},
    "allele-list-infers-missing-n": {"nulls": {"A": (None, EVN)}},
    # hla_nom_g: 01:01:01G lists the null A*01:01:01:02N beside the expressed alleles.
    "g-group-typing-resolves-to-p": {"nulls": {"A": (MAYBE, None)}},
    "mac-null-member-ignored": {"nulls": {"A": (None, MAYBE)}},
    "abbreviated-string-with-null": {"nulls": {"A": (MAYBE, None)}},
    "null-inside-ambiguity-ignored": {"nulls": {"A": (None, MAYBE)}},
    "atlas-expressing-vs-null-matched": {"nulls": {"C": (None, EVN)}},
    "atlas-expressing-vs-null-mismatched": {"nulls": {"C": (None, EVN)}},
    "donor-null-opposite-patient-protein": {
        "nulls": {"A": (None, EVN)},
        # The donor is homozygous A*02:01 under the null rule: A24 against A2 is a serological mismatch.
        "levels": {"A": (Level.PROTEIN, Level.SEROLOGY)},
        "confidences": {"A": (DEF, MIS)},
    },
    "donor-null-vs-homozygous-patient": {"nulls": {"A": (None, EVN)}},
    "patient-null-matched-by-homozygous-donor": {"nulls": {"A": (None, EVN)}},
    "same-null-both-sides": {
        "nulls": {"A": (None, NVN)},
        # WMDA null rule: both sides are homozygous A*02:01 here; the null flag says a null was there.
        "levels": {"A": (Level.PROTEIN, Level.PROTEIN)},
        "confidences": {"A": (DEF, DEF)},
    },
    "null-vs-other-null": {"nulls": {"A": (None, NVN)}},
}


@pytest.mark.parametrize(
    ("case", "tables", "patient", "donor", "loci", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_grading_table(
    case: str,
    tables: str,
    patient: Any,
    donor: Any,
    loci: tuple[str, ...],
    expected: dict[str, tuple[Grade, Grade]],
    imgt: Reference,
    shipped: Reference,
) -> None:
    reference = {NONE: None, SHIPPED: shipped, EXCERPT: imgt}[tables]
    result = grade(parse_genotype(patient, reference), parse_genotype(donor, reference), loci)
    assert result.by_locus == expected, case
    detail = DETAILS.get(case, {})
    if "rules" in detail:
        assert dict(zip(result.loci, result.rules, strict=True)) == detail["rules"], case
    assert result.patient_untyped == detail.get("patient_untyped", ()), case
    if "DPB1" in loci:
        assert result.dpb1_tce == detail.get("dpb1_tce", result.dpb1_tce) and result.dpb1_tce is not None
    else:
        assert result.dpb1_tce is None, case
    for name in ("levels", "confidences"):
        if name in detail:
            assert dict(zip(result.loci, getattr(result, name), strict=True)) == detail[name], (case, name)
    nulls = dict(zip(result.loci, result.nulls, strict=True))
    # A row without null flags expects none: a null is never reported where there is none.
    assert nulls == detail.get("nulls", dict.fromkeys(loci, (None, None))), case


def test_table_has_forty_cases_with_unique_ids() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    assert set(DETAILS) <= {c[0] for c in CASES}


def test_null_flags_are_in_the_json_beside_the_four_grades(shipped: Reference) -> None:
    patient = parse_genotype("C*01:02+C*02:52N^A*02:01+A*24:02", shipped)
    result = grade(patient, parse_genotype("C*01:02^A*02:01+A*24:02", shipped), ("A", "C"))
    shown = result.as_dict()
    assert shown["loci"] == {"A": ["allele", "allele"], "C": ["allele", "allele"]}
    assert shown["nulls"] == {"C": [None, "expressed_vs_null"]}


def test_donor_order_does_not_move_the_null_flag(shipped: Reference) -> None:
    patient = parse_genotype("A*02:01", shipped)
    one = grade(patient, parse_genotype("A*02:01+A*24:09N", shipped), ("A",))
    other = grade(patient, parse_genotype("A*24:09N+A*02:01", shipped), ("A",))
    assert one == other and one.nulls == ((None, EVN),)


def test_rules_and_null_flags_do_not_depend_on_donor_order(shipped: Reference) -> None:
    """Over a synthetic registry on the shipped tables (nulls, ambiguities, serology, codes): writing a
    donor's two typings the other way round changes nothing, rules and null flags included."""
    from hla import Genotype
    from hla.synthetic import generate, synthetic_reference

    tables = synthetic_reference(shipped)
    donors = generate(3000, seed=5, reference=tables)
    patients = generate(60, seed=6, reference=tables)
    checked = 0
    for number in range(len(patients)):
        patient = patients.genotype(number)
        if not all(patient.typed(locus) for locus in ("A", "B", "C", "DRB1")):
            continue
        for row in range(number, len(donors), 60):
            donor = donors.genotype(row)
            swapped = Genotype(tuple((b, a) for a, b in donor.pairs))
            assert grade(patient, donor) == grade(patient, swapped), (number, row)
            checked += 1
    assert checked > 2000


# --- issue 13 item 6: DPB1 left out of the total, and ranking by permissiveness ---
# Registries report a 10/10 (A, B, C, DRB1, DQB1) with DPB1 permissiveness beside it, not a 12/12: ATLAS
# "scores" DPB1 without matching on it (Atlas.MatchingAlgorithm MatchCategorisationForDPB1.feature: "scoring
# is enabled at locus DPB1"), and the NMDP/CIBMTR donor-selection guidelines (Dehn et al. 2019, BBMT 25:1277)
# prefer a TCE-permissive DPB1 mismatch to a non-permissive one among otherwise equal donors.
TEN = "A*02:01+A*24:02^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01^DQB1*06:02+DQB1*02:01"
TWELVE = ("A", "B", "C", "DRB1", "DQB1", "DPB1")
# DPB1 TCE groups (3.58.0 dpb_tce.csv, V2): 09:01 group 1, 03:01 group 2, 02:01/04:01/04:02 group 3.
DPB1_DONORS = {
    "no_mismatch": "DPB1*04:01+DPB1*02:01",
    "permissive": "DPB1*04:01+DPB1*04:02",
    "unknown": "DPB1*04:01+DPB1*10",
    "non_permissive_hvg": "DPB1*04:01+DPB1*09:01",
}


def test_dpb1_graded_but_left_out_of_the_total(shipped: Reference) -> None:
    patient = parse_genotype(f"{TEN}^DPB1*04:01+DPB1*02:01", shipped)
    donor = parse_genotype(f"{TEN}^{DPB1_DONORS['non_permissive_hvg']}", shipped)
    counted = grade(patient, donor, TWELVE)
    apart = grade(patient, donor, TWELVE, count_dpb1=False)
    assert (counted.score, counted.mismatches, str(counted.certainty)) == ("11/12", 1, "potential")
    assert (apart.score, apart.mismatches, str(apart.certainty)) == ("10/10", 0, "definite")
    assert apart.by_locus["DPB1"] == counted.by_locus["DPB1"] == (AL, MM)  # still graded and shown
    assert apart.dpb1_tce is counted.dpb1_tce is Dpb1Tce.NON_PERMISSIVE_HVG
    assert apart.as_dict()["not_counted"] == ["DPB1"] and counted.as_dict()["not_counted"] == []
    # Without DPB1 among the loci the option changes nothing.
    assert grade(patient, donor, TWELVE[:5], count_dpb1=False) == grade(patient, donor, TWELVE[:5])


def test_dpb1_alone_cannot_be_left_out(shipped: Reference) -> None:
    from hla import HlaError

    patient = parse_genotype("DPB1*04:01+DPB1*02:01", shipped)
    with pytest.raises(HlaError, match="DPB1 不计入总分"):
        grade(patient, patient, ("DPB1",), count_dpb1=False)


@pytest.mark.parametrize("count_dpb1", [True, False])
def test_ranking_prefers_a_permissive_dpb1_mismatch(shipped: Reference, count_dpb1: bool) -> None:
    """Four donors 10/10 at A–DQB1; the non-permissive one is the youngest (sort key 0) and would rank
    first on age; permissiveness ranks it last, the unknown one before it; with DPB1 not counted, no
    mismatch and a permissive one alike first (then by age)."""
    from hla import rank_key

    patient = parse_genotype(f"{TEN}^DPB1*04:01+DPB1*02:01", shipped)
    ages = {"non_permissive_hvg": 0, "unknown": 1, "permissive": 2, "no_mismatch": 3}
    keys = {}
    for name, dpb1 in DPB1_DONORS.items():
        result = grade(patient, parse_genotype(f"{TEN}^{dpb1}", shipped), TWELVE, count_dpb1=count_dpb1)
        assert str(result.dpb1_tce) == name
        keys[name] = rank_key(result, ages[name], 0, ages[name])
    # Counted, the DPB1 match is the only 12/12; the three 11/12 follow by permissiveness, not age.
    first = ["permissive", "no_mismatch"] if not count_dpb1 else ["no_mismatch", "permissive"]
    assert sorted(keys, key=keys.__getitem__) == [*first, "unknown", "non_permissive_hvg"]
