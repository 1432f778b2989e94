from __future__ import annotations

import pytest

from hla import (
    HlaError,
    Kind,
    Reference,
    ReferenceFileError,
    ReferenceRequiredError,
    TypingError,
    UnknownAlleleError,
    load_reference,
    parse_genotype,
    parse_typing,
)


@pytest.mark.parametrize(
    ("text", "locus", "normalised", "proteins", "groups"),
    [
        ("A*02", None, "A*02", set(), {"02"}),
        ("A*02:01", None, "A*02:01", {"02:01"}, set()),
        ("a*02:01:01:02l", None, "A*02:01:01:02L", {"02:01"}, set()),  # case-insensitive, suffix kept
        ("HLA-A*02:01", None, "A*02:01", {"02:01"}, set()),
        ("A*02:XX", None, "A*02", set(), {"02"}),  # NMDP XX: allele group only
        ("02:01", "A", "A*02:01", {"02:01"}, set()),  # locus from the lab column
        ("A*02:01/02:06", None, "A*02:01/A*02:06", {"02:01", "02:06"}, set()),
        ("Cw7", None, "Cw7", set(), {"07"}),  # WHO serological name of C
        ("DR15", None, "DR15", set(), {"15"}),
        ("B3901", None, "B3901", set(), {"39"}),  # four-digit antigen keeps its group digits
        ("DPB1*104:01", None, "DPB1*104:01", {"104:01"}, set()),  # three-digit field (WHO 2010)
    ],
)
def test_typing_is_normalised_to_who_names(
    text: str, locus: str | None, normalised: str, proteins: set[str], groups: set[str]
) -> None:
    typing = parse_typing(text, locus)
    assert (typing.text, set(typing.proteins), set(typing.groups)) == (normalised, proteins, groups)


@pytest.mark.parametrize("suffix", list("LSCAQ"))
def test_expression_suffixes_other_than_n_are_expressed(suffix: str) -> None:
    assert parse_typing(f"A*02:01:01:02{suffix}").kind is Kind.EXPRESSED
    assert parse_typing("A*24:09N").kind is Kind.NULL


@pytest.mark.parametrize(
    ("text", "locus", "message"),
    [
        ("A*02:0x", None, '"A*02:0x" at A: field 2 is not a number'),
        ("02:0x", "A", '"02:0x" at A: field 2 is not a number'),
        ("A*2:01", None, '"A*2:01" at A: field 1 needs at least 2 digits'),
        ("A*02::01", None, '"A*02::01" at A: field 2 is empty'),
        ("A*02:0000001", None, '"A*02:0000001" at A: field 2 has more than 4 digits'),
        ("A*02:01:01:01:01", None, '"A*02:01:01:01:01" at A: more than 4 fields'),
        ("A*02N", None, '"A*02N" at A: an expression suffix needs at least two fields'),
        ("X*01:01", None, "unknown locus"),
        ("A*02:01", "B", '"A*02:01" at B: names locus A, expected B'),
        ("02:01", None, "no locus"),
        ("", "A", "empty typing"),
        ("A*02:01/", None, "empty alternative"),
        ("DR52", None, "DRB5/DRB3/DRB4"),
        ("Bw4", None, "not a WHO allele name"),
        ("A*02:01+A*24:02", None, "parse_genotype"),
    ],
)
def test_malformed_typing_names_locus_and_text(text: str, locus: str | None, message: str) -> None:
    with pytest.raises(TypingError, match=message.replace("*", r"\*").replace("+", r"\+")):
        parse_typing(text, locus)


def test_errors_are_value_errors() -> None:
    assert issubclass(HlaError, ValueError) and issubclass(TypingError, HlaError)


def test_mac_without_table_says_a_table_is_needed() -> None:
    with pytest.raises(ReferenceRequiredError, match="needs an NMDP MAC table"):
        parse_typing("A*02:AB")


def test_p_and_g_group_names_need_the_imgt_files() -> None:
    with pytest.raises(ReferenceRequiredError, match="hla_nom_g.txt"):
        parse_typing("A*01:01:01G")


def test_unknown_code_and_allele_are_reported(imgt: Reference) -> None:
    with pytest.raises(UnknownAlleleError, match="code ZZ is not in the MAC table"):
        parse_typing("A*02:ZZ", reference=imgt)
    with pytest.raises(UnknownAlleleError, match=r"A\*02:99 is not in Allelelist.txt"):
        parse_typing("A*02:99", reference=imgt)
    with pytest.raises(UnknownAlleleError, match="allele group"):
        parse_typing("A*99:XX", reference=imgt)
    assert parse_typing("A*02:99").text == "A*02:99"  # no allele list: syntax only


def test_mac_expands_generic_and_allele_specific_codes(imgt: Reference) -> None:
    assert parse_typing("A*02:AB", reference=imgt).proteins == {"02:01P", "02:02"}
    assert parse_typing("A*02:XYZ", reference=imgt).allele_groups == {"02", "24"}


def test_serology_with_tables_expands_broad_to_split_alleles(imgt: Reference) -> None:
    typing = parse_typing("A9", reference=imgt)
    assert typing.allele_groups == {"23", "24"} and not typing.confirmed


def test_reference_reads_published_formats(imgt: Reference) -> None:
    assert imgt.mac["AB"] == ("01", "02")  # numer.v3.txt with its header lines
    assert imgt.p_groups["A"]["02:01P"][-1] == "02:09"
    assert "DRB3" not in imgt.alleles  # loci not graded are skipped
    assert imgt.splits["DRB1"]["2"] == {"15", "16"}
    assert imgt.tce["09:01"] == 1


def test_reference_directory_errors(tmp_path: object) -> None:
    with pytest.raises(ReferenceFileError, match="not a directory"):
        load_reference("/nonexistent/imgt")


def test_bad_reference_file_names_the_line(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "hla_nom_p.txt").write_text("# header\nA*;02:01\n")
    with pytest.raises(ReferenceFileError, match=r"hla_nom_p.txt:2"):
        load_reference(root)


def test_gl_string_and_columns_give_the_same_genotype() -> None:
    gl = parse_genotype("A*02:01+A*24:02^B*40:01+B*46:01")
    columns = parse_genotype({"HLA-A": ("02:01", "24:02"), "b": "B*40:01+B*46:01"})
    assert gl == columns
    assert gl.to_glstring() == "A*02:01+A*24:02^B*40:01+B*46:01"
    assert gl.loci == ("A", "B")


def test_single_typing_at_a_locus_is_homozygous() -> None:
    first, second = parse_genotype({"A": "A*02:01"})["A"]
    assert first == second


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("A*02:01+A*24:02^A*01:01+A*03:01", "locus given twice"),
        ("A*02:01+A*24:02+A*03:01", "one or two typings"),
        ("A*02:01~B*07:02+A*01:01~B*08:01", "not supported"),
        ("A*02:01|A*02:06", "not supported"),
        ("A*02:01+B*07:02", "names locus B, expected A"),
    ],
)
def test_malformed_gl_strings(source: str, message: str) -> None:
    with pytest.raises(TypingError, match=message):
        parse_genotype(source)
