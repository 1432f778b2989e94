"""A recruitment drive as a data manager gives it: checked before it is recorded."""

from __future__ import annotations

from datetime import date
from typing import get_args

import pydantic

from models.core import ValidationError
from models.registry.tables import EventKind, RecruitmentEventCreate

__all__ = ["EVENT_KINDS", "drive_input"]

EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
"""The programmes a drive recruits for: stem-cell donors or blood donors."""


def drive_input(
    *, name: str, held_on: date, location: str, district: str | None = None, kind: str = "stem_cell"
) -> RecruitmentEventCreate:
    """The drive to record (create_event), or ValidationError saying what is wrong with it."""
    if kind not in EVENT_KINDS:
        raise ValidationError(f"kind must be {' or '.join(EVENT_KINDS)}, not {kind!r}")
    fields = {"name": name, "held_on": held_on, "location": location, "district": district, "kind": kind}
    try:
        return RecruitmentEventCreate.model_validate(fields)
    except pydantic.ValidationError as exc:  # one line, per field: what a data manager can fix
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValidationError(f"invalid drive: {problems}") from exc
