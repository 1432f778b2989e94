"""Domain, one room per concern (no Prefect here, DESIGN.md §1); importing it registers every table.

Rooms depend one way: core ← registry ← matching, outreach, blood ← cases ← reminders; registry, outreach ←
intake.
"""

from models import blood, cases, core, intake, matching, outreach, registry, reminders

__all__ = ["blood", "cases", "core", "intake", "matching", "outreach", "registry", "reminders"]
