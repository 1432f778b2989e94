"""Domain, one room per concern (no Prefect here, DESIGN.md §1); importing it registers every table.

Rooms depend one way: core ← registry ← matching, outreach, blood ← cases ← reminders; registry, outreach ←
intake; core ← accounts (the dashboard's staff users).
"""

from models import accounts, blood, cases, core, intake, matching, outreach, registry, reminders

__all__ = ["accounts", "blood", "cases", "core", "intake", "matching", "outreach", "registry", "reminders"]
