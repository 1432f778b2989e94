"""Two coordinators acting on one record at the same moment, each in their own connection (DEVELOPERS.md:
"one transition and one clear conflict error")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.core import ConflictError, transaction

T = TypeVar("T")

COORDINATORS = ("li", "wang")


def two_coordinators_at_once(
    engine: Engine, read: Callable[[Session], T], write: Callable[[Session, str, T], object]
) -> tuple[list[str], list[str]]:
    """Each coordinator (`li`, `wang`) reads with `read(session)`; once both have read, each writes with
    `write(session, name, what_it_read)` in a transaction. Returns the sorted outcomes ("conflict" for a
    ConflictError, "won" for a commit) and the conflicts' messages.

    `read` should return the rows it read: they are held through the write, so the session's identity map
    keeps the versions read (a row dropped may be reloaded after the other's commit, and the race is lost
    to a different refusal)."""
    both_loaded = threading.Barrier(len(COORDINATORS))
    outcomes: list[str] = []
    conflicts: list[str] = []

    def coordinator(name: str) -> None:
        with Session(engine) as own:
            seen = read(own)
            both_loaded.wait()  # both have read before either writes
            try:
                with transaction(own):
                    write(own, name, seen)
                outcomes.append("won")
            except ConflictError as exc:
                conflicts.append(str(exc))
                outcomes.append("conflict")

    threads = [threading.Thread(target=coordinator, args=(name,)) for name in COORDINATORS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes), conflicts
