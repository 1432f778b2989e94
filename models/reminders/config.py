"""What the reminder engine needs to know, built from Settings by the composition root
(donorflow/bootstrap.py `reminder_config`): the domain never reads settings itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from models.cases.pipeline import STAGE_DEADLINES, CaseStage

__all__ = ["ReminderConfig"]


@dataclass(frozen=True)
class ReminderConfig:
    # Anything due in (day - catch_up_days, day] is acted on; older and never dealt with: missed.
    catch_up_days: int = 7
    # A follow-up questionnaire unanswered this many days after its last reminder is sent again …
    answer_days: int = 14
    # … up to this many reminders in all; unanswered after the last one, the follow-up is lost.
    max_reminders: int = 3
    # CMDP: members may donate up to 55 (DESIGN.md §6); registries abroad to the 61st birthday, so a setting.
    age_limit: int = 55
    # DKMS re-checks availability every 2 years (DESIGN.md §6).
    availability_months: int = 24
    # Per-stage idle limits in days that override STAGE_DEADLINES (DONORFLOW_STAGE_LIMITS).
    stage_limits: Mapping[str, int] = field(default_factory=dict)
    batch_size: int = 500
    # The Prefect UI (Settings.prefect_ui_url): the link in an idle case's alert.
    ui_url: str = "http://127.0.0.1:4200"
    actor: str = "system:reminders"

    def window_start(self, day: date) -> date:
        """The earliest due date a run on `day` still acts on."""
        return day - timedelta(days=self.catch_up_days - 1)

    def stage_limit(self, stage: str) -> timedelta | None:
        """The idle limit of a stage when configured, else None (the case's own `due_at` holds)."""
        if stage in self.stage_limits:
            return timedelta(days=self.stage_limits[stage])
        return None

    def default_limit(self, stage: str) -> timedelta:
        return STAGE_DEADLINES[CaseStage(stage)]
