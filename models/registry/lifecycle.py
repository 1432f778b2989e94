"""A member's registry status as a state machine: pure code, no I/O (DESIGN.md §3)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["NOT_CONTACTED", "REGISTRY_MOVES", "RegistryStatus", "allowed_registry_moves"]


class RegistryStatus(StrEnum):
    RECRUITED = "recruited"  # interest only
    REGISTERED = "registered"  # 入库: consent signed and sample taken at the drive
    ACTIVE = "active"  # HLA typing received: searchable
    DEFERRED = "deferred"  # temporarily unavailable, with an `until`
    WITHDRAWN = "withdrawn"  # consent withdrawn: personal data erased, counts kept
    RETIRED = "retired"  # age limit (CMDP: may donate up to 55)
    DECEASED = "deceased"  # reported by the family or a hospital: never contacted again, counts kept


REGISTRY_MOVES: dict[RegistryStatus | None, frozenset[RegistryStatus]] = {
    None: frozenset({RegistryStatus.RECRUITED, RegistryStatus.REGISTERED}),
    RegistryStatus.RECRUITED: frozenset(
        {RegistryStatus.REGISTERED, RegistryStatus.WITHDRAWN, RegistryStatus.DECEASED}
    ),
    RegistryStatus.REGISTERED: frozenset(
        {
            RegistryStatus.ACTIVE,
            RegistryStatus.DEFERRED,
            RegistryStatus.WITHDRAWN,
            RegistryStatus.RETIRED,
            RegistryStatus.DECEASED,
        }
    ),
    RegistryStatus.ACTIVE: frozenset(
        {RegistryStatus.DEFERRED, RegistryStatus.WITHDRAWN, RegistryStatus.RETIRED, RegistryStatus.DECEASED}
    ),
    RegistryStatus.DEFERRED: frozenset(
        {
            RegistryStatus.ACTIVE,
            RegistryStatus.REGISTERED,
            RegistryStatus.WITHDRAWN,
            RegistryStatus.RETIRED,
            RegistryStatus.DECEASED,
        }
    ),
    # A withdrawn member may join again, but only with a new consent (a new sign-up row). A withdrawn
    # member's death is not recorded: their personal data is gone and nothing is sent to them anyway.
    RegistryStatus.WITHDRAWN: frozenset({RegistryStatus.REGISTERED}),
    RegistryStatus.RETIRED: frozenset({RegistryStatus.WITHDRAWN, RegistryStatus.DECEASED}),
    # Final. A report made in error is corrected by the data manager in the database, with its audit.
    RegistryStatus.DECEASED: frozenset(),
}

# Members nothing is sent to and no reminder is computed for (DESIGN.md §6, issue 11 item 4): withdrawal
# (consent gone) and death. Opt-outs stop a channel, not the member: the dispatcher honours them.
NOT_CONTACTED = frozenset({RegistryStatus.WITHDRAWN, RegistryStatus.DECEASED})


def allowed_registry_moves(status: RegistryStatus | None) -> list[str]:
    return sorted(REGISTRY_MOVES[status])
