"""What the outbox holds: counts by kind and status, and the dead letters with their reasons
(`donorflow notify status`). Never a recipient: rows carry references and template keys only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.outreach.outbox import Outbox

__all__ = ["DeadLetter", "OutboxStatus", "outbox_status"]


@dataclass(frozen=True)
class DeadLetter:
    id: int
    idempotency_key: str
    template_key: str
    channel: str | None
    attempts: int
    reason: str
    created_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "key": self.idempotency_key,
            "template": self.template_key,
            "channel": self.channel,
            "attempts": self.attempts,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class OutboxStatus:
    counts: dict[str, dict[str, int]]  # kind → status → rows
    dead: list[DeadLetter]
    dead_total: int

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": self.counts,
            "dead_total": self.dead_total,
            "dead": [letter.as_dict() for letter in self.dead],
        }


def outbox_status(*, session: Session, dead_limit: int = 50) -> OutboxStatus:
    """Rows per kind and status; the newest `dead_limit` dead letters with the reason each died."""
    grouped = session.exec(
        select(Outbox.kind, Outbox.status, func.count()).group_by(col(Outbox.kind), col(Outbox.status))
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for kind, status, n in grouped:
        counts.setdefault(kind, {})[status] = n
    rows = session.exec(
        select(Outbox).where(Outbox.status == "dead").order_by(col(Outbox.id).desc()).limit(dead_limit)
    ).all()
    dead = [
        DeadLetter(
            id=row.id or 0,
            idempotency_key=row.idempotency_key,
            template_key=row.template_key,
            channel=row.channel,
            attempts=row.attempts,
            reason=row.last_error or "",
            created_at=row.created_at,
        )
        for row in rows
    ]
    total = sum(by_status.get("dead", 0) for by_status in counts.values())
    return OutboxStatus(counts=counts, dead=dead, dead_total=total)
