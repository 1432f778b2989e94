"""What an import reports: accepted rows with member code and action, rejected rows with their errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from models.intake.validation import RowRejection

__all__ = ["AcceptedRow", "Action", "ImportReport"]

log = logging.getLogger(__name__)


Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class AcceptedRow:
    row: int
    code: str
    action: Action


@dataclass
class ImportReport:
    accepted: list[AcceptedRow] = field(default_factory=list)
    rejected: list[RowRejection] = field(default_factory=list)
    # The sheet's own cells, kept in memory only, so rejected rows can be written back for fixing.
    columns: list[str] = field(default_factory=list)
    cells: dict[int, Mapping[str, str | None]] = field(default_factory=dict, repr=False)

    def rejected_rows(self) -> Iterator[tuple[int, Mapping[str, str | None], tuple[str, ...]]]:
        for rejection in self.rejected:
            yield rejection.row, self.cells.get(rejection.row, {}), rejection.errors

    def finish(self, source: str, unit: str = "row") -> None:
        """Order the report by row and log it: row numbers and rule names only, never personal values."""
        self.accepted.sort(key=lambda a: a.row)
        self.rejected.sort(key=lambda r: r.row)
        for rejection in self.rejected:
            log.warning("%s %s %d rejected: %s", source, unit, rejection.row, "; ".join(rejection.errors))
        log.info(
            "%s imported: %d created, %d updated, %d unchanged, %d rejected",
            source,
            self.count("created"),
            self.count("updated"),
            self.count("unchanged"),
            len(self.rejected),
        )

    def count(self, action: Action) -> int:
        return sum(1 for row in self.accepted if row.action == action)

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "accepted": [{"row": a.row, "code": a.code, "action": a.action} for a in self.accepted],
            "rejected": [{"row": r.row, "errors": list(r.errors)} for r in self.rejected],
        }
