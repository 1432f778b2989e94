"""The index store adapter: the index file and its watermarks saved and read as one pair, and what
happens when the file cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

import hla
from models.matching import IndexFile, SavedIndex, UnusableIndexError, Watermarks

GENOTYPE = hla.parse_genotype({"A": ("A*02:01", "A*24:02"), "B": ("B*40:01", "B*46:01")})


def _saved(marks: Watermarks) -> SavedIndex:
    return SavedIndex(hla.HlaIndex.build([hla.Member(7, 0, 7, GENOTYPE)]), marks)


def test_index_file_gives_back_the_index_with_its_watermarks(tmp_path: Path) -> None:
    storage = IndexFile(tmp_path / "var" / "hla-index.npz")
    storage.save(_saved(Watermarks(event=12, typing=34)))
    loaded = storage.load(None)
    assert loaded is not None
    assert loaded.marks == Watermarks(event=12, typing=34)
    assert 7 in loaded.index and len(loaded.index) == 1


def test_nothing_saved_loads_as_none(tmp_path: Path) -> None:
    assert IndexFile(tmp_path / "hla-index.npz").load(None) is None


def test_index_without_its_watermarks_is_not_loaded(tmp_path: Path) -> None:
    storage = IndexFile(tmp_path / "hla-index.npz")
    storage.save(_saved(Watermarks(1, 1)))
    storage.meta_path.unlink()
    assert storage.load(None) is None


@pytest.mark.parametrize(
    ("damage", "target"),
    [("{}", "meta"), ('{"event_mark": "x", "typing_mark": 1}', "meta"), ("not an npz", "index")],
    ids=["watermarks-missing", "watermark-not-a-number", "index-not-an-npz"],
)
def test_damaged_file_is_reported_unusable_so_the_caller_rebuilds(
    tmp_path: Path, damage: str, target: str
) -> None:
    storage = IndexFile(tmp_path / "hla-index.npz")
    storage.save(_saved(Watermarks(1, 1)))
    (storage.meta_path if target == "meta" else storage.path).write_text(damage)
    with pytest.raises(UnusableIndexError):
        storage.load(None)
