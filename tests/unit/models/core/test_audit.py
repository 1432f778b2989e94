from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.core import audit_event, audit_values

AT = datetime(2021, 6, 14, 2, 0, tzinfo=UTC)


def test_audit_row_masks_numbers_typed_into_actor_and_reason_and_fits_the_columns() -> None:
    values = audit_values(
        entity="case",
        donor_id=7,
        to_state="closed",
        at=AT,
        actor="张协调 13812345678",
        reason="declined: call 13812345678, ID 410102198001011234 " + "x" * 300,
    )
    assert "13812345678" not in values["actor"] and "138****5678" in values["actor"]
    assert "13812345678" not in values["reason"] and "410102198001011234" not in values["reason"]
    assert values["reason"].startswith("declined: call 138****5678, ID 410102************")
    assert len(values["reason"]) == 200


def test_bulk_values_and_the_table_object_are_the_same_row() -> None:
    arguments: dict[str, Any] = {
        "entity": "donor",
        "donor_id": 3,
        "to_state": "active",
        "at": AT,
        "actor": "import",
        "recorded_at": AT,
    }
    assert audit_event(**arguments).model_dump(exclude={"id"}) == audit_values(**arguments)
    assert audit_values(**arguments)["reason"] is None
