"""The one batch writer of the imports: rows in batches, one transaction each, read again on a lost race."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.core import BusyError, ConflictError, transaction

__all__ = ["BATCH_TRIES", "ConcurrentChange", "Numbered", "run_in_batches"]

log = logging.getLogger(__name__)

BATCH_TRIES = 3


class ConcurrentChange(Exception):
    """A batch's conditional write missed: rows it read were changed by someone else before it wrote."""


class Numbered(Protocol):
    """A row of an import file; `row` is its 1-based place in the file (what a data manager looks up)."""

    @property
    def row(self) -> int: ...


RowT = TypeVar("RowT", bound=Numbered)
ResultT = TypeVar("ResultT")


def run_in_batches(
    *,
    session: Session,
    rows: Iterable[RowT],
    batch_size: int,
    write_batch: Callable[[Sequence[RowT]], ResultT],
    committed: Callable[[ResultT], None],
    progress: Callable[[int], None] | None = None,
    tries: int = BATCH_TRIES,
) -> None:
    """Write `rows` in batches of `batch_size`, each batch its own transaction, committed here.

    An import is a use case that owns its transactions, one per batch (unlike an ordinary service, which
    never commits and leaves the transaction to its caller): a crash, even kill -9, loses at most the
    batch in flight, and a rerun finds what the committed batches wrote (the writers dedupe on a unique
    key), so nothing is created twice and nothing is lost.

    `write_batch` reads what the batch needs and writes it; it raises ConcurrentChange when a conditional
    write misses, and a concurrent import winning a unique key shows as an IntegrityError. Either way the
    batch rolls back and is written again from a fresh read, up to `tries` times; then ConflictError names
    the batch's rows (the batches before it stay committed). `committed(result)` is called after each
    commit, `progress(len(batch))` after that. A batch is read lazily from `rows`, so rows rejected while
    being produced are reported as the file is read.
    """
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        committed(_write_with_retry(session, batch, write_batch, tries))
        if progress:
            progress(len(batch))


def _write_with_retry(
    session: Session,
    batch: Sequence[RowT],
    write_batch: Callable[[Sequence[RowT]], ResultT],
    tries: int,
) -> ResultT:
    # Between our read and our write, a concurrent import can win the unique key (or a new year's code
    # counter), or a coordinator can withdraw (or defer) a member: the conditional UPDATEs then miss and
    # the batch rolls back. The retry reads afresh and judges those rows again: a member who withdrew
    # meanwhile is a rejected row, never re-registered by an UPDATE written from the old read.
    for attempt in range(1, tries + 1):
        try:
            with transaction(session):
                result = write_batch(batch)
        except (IntegrityError, ConcurrentChange, BusyError) as exc:
            # Never the IntegrityError's text: it carries the rows' values. BusyError: PostgreSQL rolled
            # the batch back for a concurrent writer (a deadlock on the audit tallies' rows, say).
            if isinstance(exc, ConcurrentChange):
                why = str(exc)
            elif isinstance(exc, BusyError):
                why = "the database was busy with another writer"
            else:
                why = "another import added the same person"
            if attempt < tries:
                log.info("batch of %d rows: %s; reading it again", len(batch), why)
                continue
            first, last = batch[0].row, batch[-1].row
            conflict = ConflictError(
                f"rows {first}–{last}: {why} on every try; the rows before them are imported, "
                "run the import again for the rest"
            )
            # Not chained to an IntegrityError: its text (and a traceback logged by a flow) has the values.
            raise conflict from (exc if isinstance(exc, ConcurrentChange) else None)
        log.debug("batch of %d rows committed", len(batch))
        return result
    raise AssertionError("unreachable: tries must be at least 1")
