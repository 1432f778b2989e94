"""What an import leaves for Prefect (task and flow results, artifacts): counts, row numbers and rule
names. Never the sheet's cells or a member's values: Prefect keeps results and withdrawal never reaches
them (README: personal data and Prefect)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from models.intake.report import ImportReport

__all__ = ["ImportSummary", "RejectedRow"]


class RejectedRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int
    errors: tuple[str, ...]


class ImportSummary(BaseModel):
    """An ImportReport without its cells and codes: safe to return from a Prefect task."""

    model_config = ConfigDict(frozen=True)

    created: int
    updated: int
    unchanged: int
    rejected: tuple[RejectedRow, ...]

    @classmethod
    def of(cls, report: ImportReport) -> ImportSummary:
        return cls(
            created=report.count("created"),
            updated=report.count("updated"),
            unchanged=report.count("unchanged"),
            rejected=tuple(RejectedRow(row=r.row, errors=r.errors) for r in report.rejected),
        )

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
        }
