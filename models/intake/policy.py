"""An import's policy (salt, registry prefix, joining ages, limits, batch size) and the salted ID hash."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from models.intake.sheet_files import DEFAULT_LIMITS, SheetLimits

__all__ = ["ImportPolicy", "national_id_hash"]


@dataclass(frozen=True)
class ImportPolicy:
    id_salt: bytes
    registry_prefix: str = "ZZ"
    min_age: int = 18  # CMDP joining ages
    max_age: int = 45
    batch_size: int = 2000
    limits: SheetLimits = DEFAULT_LIMITS  # how much of a file the reader takes on


def national_id_hash(national_id: str, salt: bytes) -> str:
    """HMAC-SHA256 of the normalised ID number: stable for dedupe, useless without the salt."""
    return hmac.new(salt, national_id.strip().upper().encode(), hashlib.sha256).hexdigest()
