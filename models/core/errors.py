"""donorflow's exception tree.

Third-party errors are caught at the boundary and re-raised as one of these, the original chained.
Messages never carry personal data (names, phones, ID numbers): callers pass masked values only.
"""

from __future__ import annotations

__all__ = [
    "BalanceExhaustedError",
    "BusyError",
    "ConfigurationError",
    "ConflictError",
    "DonorflowError",
    "IllegalTransitionError",
    "NotFoundError",
    "PermanentDeliveryError",
    "SheetError",
    "TransientDeliveryError",
    "ValidationError",
]


class DonorflowError(Exception):
    """Base of every error donorflow raises on purpose."""


class ValidationError(DonorflowError):
    """Input that breaks a rule; the message says which rule, never the personal value."""


class SheetError(ValidationError):
    """A sign-up file that cannot be read at all: missing, unknown encoding, missing required column."""


class NotFoundError(DonorflowError):
    """A case, member, drive or search that does not exist."""


class ConfigurationError(DonorflowError):
    """The installation is not set up to run safely (e.g. the ID salt is missing or ambiguous)."""


class ConflictError(DonorflowError):
    """Someone else changed the record first (stale version), or the record is busy."""


class BusyError(ConflictError):
    """The database ended our transaction for another's sake (PostgreSQL: deadlock detected, serialization
    failure): nothing was written, and the same work tried again will normally go through."""


class IllegalTransitionError(ValidationError):
    """A move the state machine does not allow from the current stage."""


class TransientDeliveryError(DonorflowError):
    """A channel failed in a way that may succeed on retry (timeout, 5xx, 429)."""


class PermanentDeliveryError(DonorflowError):
    """A channel refused the message for good (bad recipient, 4xx): dead-letter it."""


class BalanceExhaustedError(TransientDeliveryError):
    """The provider's account has no balance left: the message waits and the operator is alerted."""
