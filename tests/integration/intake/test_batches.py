"""The one batch writer of the imports (models.intake.batches): a transaction per batch, retried on a race."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlmodel import Session, col, select

from models.core import ConflictError
from models.intake.batches import ConcurrentChange, run_in_batches
from models.registry.tables import RegistryCodeCounter


@dataclass(frozen=True)
class _Row:
    row: int
    prefix: str


ROWS = [_Row(n, f"T{n}") for n in range(1, 6)]


def _insert(session: Session, batch: Sequence[_Row]) -> list[int]:
    session.add_all(RegistryCodeCounter(prefix=r.prefix) for r in batch)
    session.flush()
    return [r.row for r in batch]


def _prefixes(session: Session) -> list[str]:
    session.expire_all()
    return list(session.exec(select(RegistryCodeCounter.prefix).order_by(col(RegistryCodeCounter.prefix))))


def test_each_batch_commits_on_its_own_and_reports_after_its_commit(session: Session) -> None:
    committed: list[list[int]] = []
    progress: list[int] = []
    run_in_batches(
        session=session,
        rows=iter(ROWS),
        batch_size=2,
        write_batch=lambda batch: _insert(session, batch),
        committed=committed.append,
        progress=progress.append,
    )
    assert committed == [[1, 2], [3, 4], [5]]
    assert progress == [2, 2, 1]
    assert _prefixes(session) == ["T1", "T2", "T3", "T4", "T5"]


def test_a_batch_that_keeps_meeting_a_concurrent_change_stops_naming_its_rows_and_keeps_the_batches_before(
    session: Session,
) -> None:
    tries: list[int] = []

    def write(batch: Sequence[_Row]) -> list[int]:
        written = _insert(session, batch)  # written, then found stale: nothing of this batch may stay
        if batch[0].row == 3:
            tries.append(1)
            raise ConcurrentChange("1 member(s) changed by someone else meanwhile")
        return written

    committed: list[list[int]] = []
    with pytest.raises(
        ConflictError, match="rows 3–4: 1 member.s. changed by someone else meanwhile on every"
    ):
        run_in_batches(
            session=session, rows=ROWS, batch_size=2, write_batch=write, committed=committed.append, tries=3
        )
    assert len(tries) == 3
    assert committed == [[1, 2]]
    assert _prefixes(session) == ["T1", "T2"]


def test_a_unique_key_lost_to_another_import_is_read_again_and_written_once(session: Session) -> None:
    session.add(RegistryCodeCounter(prefix="T3"))  # what "another import" committed first
    session.commit()
    seen: list[list[str]] = []

    def write(batch: Sequence[_Row]) -> list[int]:
        fresh = set(_prefixes_in_transaction(session))
        seen.append([r.prefix for r in batch])
        todo = batch if len(seen) == 1 else [r for r in batch if r.prefix not in fresh]  # 1st try: stale read
        return _insert(session, todo)

    committed: list[list[int]] = []
    run_in_batches(
        session=session, rows=ROWS[2:4], batch_size=2, write_batch=write, committed=committed.append
    )
    assert seen == [["T3", "T4"], ["T3", "T4"]]
    assert committed == [[4]]
    assert _prefixes(session) == ["T3", "T4"]


def test_a_unique_key_lost_on_every_try_is_a_conflict_without_the_databases_text(session: Session) -> None:
    session.add(RegistryCodeCounter(prefix="T1"))
    session.commit()
    with pytest.raises(ConflictError, match="rows 1–2: another import added the same person") as caught:
        run_in_batches(
            session=session,
            rows=ROWS[:2],
            batch_size=2,
            write_batch=lambda b: _insert(session, b),
            committed=lambda _: None,
        )
    assert caught.value.__cause__ is None  # an IntegrityError's text carries the rows' values
    assert "T1" not in str(caught.value)
    assert _prefixes(session) == ["T1"]


def _prefixes_in_transaction(session: Session) -> list[str]:
    return list(session.exec(select(RegistryCodeCounter.prefix)))
