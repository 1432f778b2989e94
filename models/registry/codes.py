"""Registry codes: short, readable, never reused — `ZZ21-000123` is branch prefix, year, sequence."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from models.registry.tables import RegistryCodeCounter

__all__ = ["code_prefix", "reserve_codes"]


def code_prefix(branch: str, year: int) -> str:
    return f"{branch}{year % 100:02d}"


def reserve_codes(*, session: Session, prefix: str, count: int) -> list[str]:
    """Reserve `count` consecutive codes in the caller's transaction (rolled back with it).

    The counter row is updated with RETURNING, so two importers never get the same numbers; a clash on
    creating a new year's counter row surfaces as an IntegrityError that the importer retries.
    """
    if count <= 0:
        return []
    if session.get(RegistryCodeCounter, prefix) is None:
        session.add(RegistryCodeCounter(prefix=prefix, last_value=0))
        session.flush()
    last = session.execute(
        update(RegistryCodeCounter)
        .where(col(RegistryCodeCounter.prefix) == prefix)
        .values(last_value=col(RegistryCodeCounter.last_value) + count)
        .returning(col(RegistryCodeCounter.last_value))
    ).scalar_one()
    first = int(last) - count + 1
    return [f"{prefix}-{number:06d}" for number in range(first, first + count)]
