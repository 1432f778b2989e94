"""The engine's bookkeeping: what one reminder does (an `Action`), the ledger row that makes it happen
once, the coordinators' tasks it opens, and the counts a run reports.

A run claims each action's ledger key with `INSERT … ON CONFLICT DO NOTHING` in the batch's transaction,
then writes the action's messages, tasks and status changes in that same transaction. A second run of
the same day finds the key taken and does nothing; two runs at once on PostgreSQL: the second insert waits
for the first transaction and then inserts nothing, so the second run writes nothing either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models.core import utcnow
from models.reminders.tables import CoordinatorTask, Reminder

__all__ = ["Action", "Tally", "claim", "known_keys", "open_task"]

OUTCOMES = ("enqueued", "task", "missed", "skipped")


@dataclass
class Tally:
    """Counts by kind: messages queued, coordinator tasks opened, reminders missed."""

    enqueued: Counter[str] = field(default_factory=Counter)
    tasks: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.enqueued.update(other.enqueued)
        self.tasks.update(other.tasks)
        self.missed.update(other.missed)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "enqueued": dict(sorted(self.enqueued.items())),
            "tasks": dict(sorted(self.tasks.items())),
            "missed": dict(sorted(self.missed.items())),
        }


@dataclass(frozen=True)
class Action:
    """One reminder the engine deals with on a day: its ledger key, what it will count, and its writes.

    `key=None` is housekeeping (a withdrawn member's follow-up cancelled, a due date set): idempotent by
    the state it changes, no ledger row and nothing counted.
    """

    kind: str
    key: str | None
    due_on: date
    outcome: str  # enqueued | task | missed | skipped
    effect: Callable[[Session], None]
    donor_id: int | None = None
    case_id: str | None = None
    enqueues: tuple[str, ...] = ()  # the kinds counted under "enqueued" (one entry per outbox row)
    tasks: tuple[str, ...] = ()  # the task kinds it opens

    def tally(self) -> Tally:
        tally = Tally(Counter(self.enqueues), Counter(self.tasks))
        if self.outcome == "missed":
            tally.missed[self.kind] += 1
        return tally


def _insert(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """Insert the row unless its unique `key` is taken; True if this call inserted it."""
    connection = session.connection()
    dialect = connection.dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table.__table__).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        statement = sqlite.insert(table.__table__).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["key"])
    else:  # pragma: no cover - donorflow runs on SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that returns the new id.
    return connection.execute(statement.returning(table.__table__.c.key)).first() is not None


def claim(session: Session, action: Action, run_on: date) -> bool:
    """The action's ledger row, in the caller's transaction: True if this run is the one to do it."""
    assert action.key is not None
    return _insert(
        session,
        Reminder,
        {
            "key": action.key,
            "kind": action.kind,
            "donor_id": action.donor_id,
            "case_id": action.case_id,
            "due_on": action.due_on,
            "outcome": action.outcome,
            "run_on": run_on,
            "at": utcnow(),
        },
    )


def known_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """The keys of `keys` the ledger already holds (one query per batch)."""
    wanted = list(set(keys))
    if not wanted:
        return set()
    return set(session.exec(select(Reminder.key).where(col(Reminder.key).in_(wanted))).all())


def open_task(
    session: Session,
    *,
    key: str,
    kind: str,
    due_on: date,
    detail: dict[str, Any],
    case_id: str | None = None,
    donor_id: int | None = None,
) -> bool:
    """A coordinator task, once per key; `detail` holds codes, dates and counts only (no names)."""
    return _insert(
        session,
        CoordinatorTask,
        {
            "key": key,
            "kind": kind,
            "case_id": case_id,
            "donor_id": donor_id,
            "due_on": due_on,
            "detail": detail,
            "status": "open",
            "opened_at": utcnow(),
        },
    )


def missed_task(session: Session, action_key: str, kind: str, due_on: date, **ids: Any) -> None:
    """A reminder that fell due before the catch-up window: not sent, listed for the coordinator (one
    task per missed reminder, so each can be chased and closed on its own)."""
    detail = {"reminder": action_key, "kind": kind, "due_on": due_on.isoformat()}
    open_task(session, key=f"task:missed:{action_key}"[:120], kind="missed_reminder", due_on=due_on,
              detail=detail, **ids)  # fmt: skip
