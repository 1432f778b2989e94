"""The IPD-IMGT/HLA release shipped in the package (issue 13 item 1) and what the parser does with it:
history, abbreviated allele strings (item 3), antigen keys (item 2), the parse cache."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from hla import (
    SHIPPED_DIR,
    SHIPPED_RELEASE,
    Reference,
    ReferenceFileError,
    UnknownAlleleError,
    load_reference,
    parse_typing,
    read_mac_file,
)

IMGT_DIR = Path(__file__).resolve().parents[2] / "data" / "hla" / "imgt"
# md5 of the published text, from the release's wmda/md5checksum.txt (Allelelist: of the file fetched).
PUBLISHED_MD5 = {
    "Allelelist.txt.gz": "c49286c58f4f99b0daeb0395a651c041",
    "hla_nom.txt.gz": "841ed72754f5477575e308b83f950bb4",
    "hla_nom_g.txt.gz": "fb6d46f40079a8d5584cda87ca6473f2",
    "hla_nom_p.txt.gz": "85d862e04e138f5eb9b985d5f1c2d0f0",
    "rel_dna_ser.txt.gz": "c00c22a1bfeb3f9a1a0e1281888e0f2b",
    "rel_ser_ser.txt.gz": "bcd5b596fe97a36831e5f05989c1e28e",
    "Nomenclature_2009.txt.gz": "7ce5a2d98cbeffd61a30fb1776090a24",
    # tce/dpb_tce.csv at the release 3.58.0 commit (the release publishes no md5 for it: of the file fetched)
    "dpb_tce.csv.gz": "30eadf9b535dbbe64d3322dc44f832b3",
}


def test_shipped_files_are_the_published_text_unmodified() -> None:
    assert {p.name for p in SHIPPED_DIR.glob("*.gz")} == set(PUBLISHED_MD5)
    for name, md5 in PUBLISHED_MD5.items():
        assert hashlib.md5(gzip.decompress((SHIPPED_DIR / name).read_bytes())).hexdigest() == md5, name
    readme = (SHIPPED_DIR / "README.md").read_text()
    assert SHIPPED_RELEASE in readme and "Attribution-NoDerivs" in readme and "ANHIG/IMGTHLA" in readme


def test_shipped_release_loads_every_table(shipped: Reference) -> None:
    assert shipped.release == SHIPPED_RELEASE
    counts = shipped.counts()
    assert counts["alleles"] > 30_000 and counts["p_groups"] > 1000 and counts["g_groups"] > 500
    assert counts["renamed_or_deleted_alleles"] > 100 and counts["alleles_with_serology"] > 20_000
    assert shipped.splits["B"]["16"] == {"38", "39"}
    assert shipped.associated["B"]["39"] == {"3901", "3902"}
    assert shipped.antigens_of("B", ("15", "01")) == {"62"}
    assert shipped.antigens_of("DPB1", ("04", "01")) == frozenset()  # "?" in rel_dna_ser
    # tce/dpb_tce.csv, V2 assignment (issue 13 item 6): DPB1*09:01 group 1, 03:01 group 2, 04:01 group 3.
    assert (shipped.tce["09:01"], shipped.tce["03:01"], shipped.tce["04:01"]) == (1, 2, 3)
    assert "61:01" not in shipped.tce  # DPB1*61:01N: a null has no TCE group


def test_relatives_follow_broads_splits_and_associated_but_not_siblings(shipped: Reference) -> None:
    assert shipped.relatives("B", "39") == {"39", "16", "3901", "3902"}
    assert "38" not in shipped.relatives("B", "39")
    assert shipped.relatives("A", "2403") == {"2403", "24", "9"}


def test_renamed_allele_is_read_as_its_current_name(shipped: Reference) -> None:
    typing = parse_typing("A*02:01:08", reference=shipped)  # renamed A*02:1040 in January 2022
    assert typing.text == "A*02:1040" and typing == parse_typing("A*02:1040", reference=shipped)
    old = parse_typing("A*0105N", reference=shipped)  # pre-2010 name, identical to A*01:04:01:01N
    assert old.text == "A*01:04:01:01N" and old.kind == "null"


def test_names_from_before_2010_are_read_as_2010_names(shipped: Reference) -> None:
    assert parse_typing("A*0201", reference=shipped).text == "A*02:01"
    assert parse_typing("Cw*0304", reference=shipped).text == "C*03:04"
    assert parse_typing("A*02101", reference=shipped).text == "A*02:101"  # 3-digit second field
    assert parse_typing("A*2409N", reference=shipped).kind == "null"
    assert parse_typing("A*020116", reference=shipped).text == "A*02:134"  # deleted 2007, renamed


def test_deleted_allele_is_an_error_naming_it(shipped: Reference) -> None:
    with pytest.raises(UnknownAlleleError, match=r"A\*2401 was deleted from IPD-IMGT/HLA \(Sequence error\)"):
        parse_typing("A*2401", reference=shipped)


def test_abbreviated_allele_string_keeps_the_first_field() -> None:
    assert parse_typing("A*01:01/03").text == "A*01:01/A*01:03"
    assert parse_typing("A*01:01/03").allele_groups == {"01"}
    assert parse_typing("A*01:01/03") == parse_typing("A*01:01/A*01:03")
    assert parse_typing("A*02/03").allele_groups == {"02", "03"}  # groups stay groups


def test_abbreviated_allele_string_with_a_null(shipped: Reference) -> None:
    typing = parse_typing("A*01:01/04N", reference=shipped)
    assert typing.text == "A*01:01/A*01:04N"
    assert typing.possibly_null and typing.kind == "expressed"
    assert not parse_typing("A*01:01/03", reference=shipped).possibly_null


def test_antigen_keys_use_serology_or_the_first_field(shipped: Reference) -> None:
    assert parse_typing("B*15:01", reference=shipped).antigens == {"s:62"}
    assert parse_typing("B*15:01").antigens == {"g:15"}  # no tables: the first field
    assert parse_typing("DPB1*04:01", reference=shipped).antigens == {"g:04"}
    b62 = parse_typing("B62", reference=shipped)
    assert b62.antigens == {"s:62"} and b62.serological


def test_cache_is_written_once_and_read_back_equal(tmp_path: Path) -> None:
    cold = load_reference(SHIPPED_DIR, cache_dir=tmp_path)
    [cached] = list(tmp_path.glob("hla-reference-*.marshal"))
    assert cold.fingerprint in cached.name
    warm = load_reference(SHIPPED_DIR, cache_dir=tmp_path)
    assert warm.counts() == cold.counts() and warm.fingerprint == cold.fingerprint
    assert warm.protein_key("A", ("02", "09")) == "02:01P" and warm.history == cold.history
    assert parse_typing("B*39:01", reference=warm) == parse_typing("B*39:01", reference=cold)


def test_cache_follows_the_files_not_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(IMGT_DIR, data)
    first = load_reference(data, cache_dir=tmp_path / "cache")
    (data / "numer.v3.txt").write_text("AB\t01/02\nZZ\t01/03\n")
    second = load_reference(data, cache_dir=tmp_path / "cache")
    assert first.fingerprint != second.fingerprint and "ZZ" in second.mac and "ZZ" not in first.mac


def test_unreadable_cache_is_parsed_again(tmp_path: Path) -> None:
    load_reference(IMGT_DIR, cache_dir=tmp_path)
    [cached] = list(tmp_path.glob("*.marshal"))
    cached.write_bytes(b"not marshal")
    assert load_reference(IMGT_DIR, cache_dir=tmp_path).mac["AB"] == ("01", "02")


def test_mac_file_beside_the_tables(tmp_path: Path) -> None:
    mac = tmp_path / "codes.txt"
    mac.write_text("QQ\t01/06\n")
    reference = load_reference(IMGT_DIR, mac_file=mac)  # instead of the directory's numer.v3.txt
    assert parse_typing("A*02:QQ", reference=reference).text == "A*02:01/A*02:06"
    assert "AB" not in reference.mac
    assert read_mac_file(mac) == {"QQ": ("01", "06")}
    mac.write_text("not a code table\n")
    with pytest.raises(ReferenceFileError, match="no 'CODE<TAB>subtype"):
        read_mac_file(mac)


def test_mac_codes_survive_the_cache(tmp_path: Path) -> None:
    cold = load_reference(IMGT_DIR, cache_dir=tmp_path)
    warm = load_reference(IMGT_DIR, cache_dir=tmp_path)
    assert list(tmp_path.glob("*.marshal")) and dict(warm.mac) == dict(cold.mac)
    assert warm.mac["XYZ"] == ("02:01", "24:02") and "ZZ" not in warm.mac and len(warm.mac) == 5
    assert parse_typing("A*02:AB", reference=warm) == parse_typing("A*02:AB", reference=cold)
