"""Where the HLA index is kept between runs: the adapter for its file, its watermarks and the file lock.

The domain side (`models.matching.index.IndexStore`) only asks for the saved index and its watermarks and
hands them back to be saved; it never sees a path or a lock. `IndexFile` keeps them as `hla-index.npz`
with a small JSON of watermarks beside it; the composition root (donorflow/bootstrap.py) wires the two.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import hla
from models.core import DonorflowError

__all__ = ["IndexFile", "IndexStorage", "SavedIndex", "UnusableIndexError", "Watermarks"]


class UnusableIndexError(DonorflowError):
    """The saved index cannot be read (truncated, another format, watermarks missing): rebuild it."""


@dataclass(frozen=True)
class Watermarks:
    """The highest audit-event and typing ids the saved index has seen."""

    event: int = 0
    typing: int = 0


@dataclass(frozen=True)
class SavedIndex:
    index: hla.HlaIndex
    marks: Watermarks


class IndexStorage(Protocol):
    """What the domain needs from wherever the index is kept."""

    def load(self, reference: hla.Reference | None) -> SavedIndex | None:
        """The saved index and its watermarks, or None when nothing is saved.
        Raises UnusableIndexError when what is saved cannot be used (the caller rebuilds)."""
        ...

    def save(self, saved: SavedIndex) -> None:
        """Keep the index and its watermarks as one pair."""
        ...


class IndexFile:
    """The index as an .npz file with its watermarks in a JSON beside it, guarded by a lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta_path = path.with_suffix(".json")

    def load(self, reference: hla.Reference | None) -> SavedIndex | None:
        if not (self.path.exists() and self.meta_path.exists()):
            return None
        try:
            with self._locked():  # the file and its watermarks are read as one pair
                meta = json.loads(self.meta_path.read_text())
                index = hla.HlaIndex.load(self.path, reference)
            return SavedIndex(index, Watermarks(int(meta["event_mark"]), int(meta["typing_mark"])))
        except (hla.HlaError, ValueError, KeyError) as exc:
            raise UnusableIndexError(str(exc)) from exc

    def save(self, saved: SavedIndex) -> None:
        """Several processes (the CLI, each flow run) may save the same file, and an index with another
        process's watermarks would miss changes: write both under the lock, the JSON replaced atomically."""
        with self._locked():
            saved.index.save(self.path)
            marks = json.dumps({"event_mark": saved.marks.event, "typing_mark": saved.marks.typing})
            temporary = self.meta_path.with_suffix(".json.tmp")
            temporary.write_text(marks)
            temporary.replace(self.meta_path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
