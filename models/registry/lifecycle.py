"""A member's registry status as a state machine: pure code, no I/O (DESIGN.md §3)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["REGISTRY_MOVES", "RegistryStatus", "allowed_registry_moves"]


class RegistryStatus(StrEnum):
    RECRUITED = "recruited"  # interest only
    REGISTERED = "registered"  # 入库: consent signed and sample taken at the drive
    ACTIVE = "active"  # HLA typing received: searchable
    DEFERRED = "deferred"  # temporarily unavailable, with an `until`
    WITHDRAWN = "withdrawn"  # consent withdrawn: personal data erased, counts kept
    RETIRED = "retired"  # age limit (CMDP: may donate up to 55)


REGISTRY_MOVES: dict[RegistryStatus | None, frozenset[RegistryStatus]] = {
    None: frozenset({RegistryStatus.RECRUITED, RegistryStatus.REGISTERED}),
    RegistryStatus.RECRUITED: frozenset({RegistryStatus.REGISTERED, RegistryStatus.WITHDRAWN}),
    RegistryStatus.REGISTERED: frozenset(
        {RegistryStatus.ACTIVE, RegistryStatus.DEFERRED, RegistryStatus.WITHDRAWN, RegistryStatus.RETIRED}
    ),
    RegistryStatus.ACTIVE: frozenset(
        {RegistryStatus.DEFERRED, RegistryStatus.WITHDRAWN, RegistryStatus.RETIRED}
    ),
    RegistryStatus.DEFERRED: frozenset(
        {RegistryStatus.ACTIVE, RegistryStatus.REGISTERED, RegistryStatus.WITHDRAWN, RegistryStatus.RETIRED}
    ),
    # A withdrawn member may join again, but only with a new consent (a new sign-up row).
    RegistryStatus.WITHDRAWN: frozenset({RegistryStatus.REGISTERED}),
    RegistryStatus.RETIRED: frozenset({RegistryStatus.WITHDRAWN}),
}


def allowed_registry_moves(status: RegistryStatus | None) -> list[str]:
    return sorted(REGISTRY_MOVES[status])
