"""The seed year replayed: a synthetic 2021 whose funnel equals the branch's annual report, exactly.

`replay_zhengzhou_2021` builds a prior registry (members who joined 2001–2020), the drives of 2021 and a
year of patient searches, and walks them through the services the flows call — `create_event`,
`import_records`, `open_case` / `advance_case` / `close_case`, `change_registry_status` — so that
`funnel_counts` for 2021 equals the `stem_cell` figures of `data/zhengzhou-2021.json` (SEED_FIGURES).

Everything comes from one seed: the same seed gives the same members, codes, searches and stage events.
Nobody in it is a real person (see donorflow.demo). The replay is thousands of transactions, not one:
load it into a database without 2021 stem-cell data, and start again from an empty one if it fails.

The package follows the replay's seams: `calendar` (dates, holidays, working days), `shares` (splitting
totals), `drives`, `people` (members and HLA typings), `searches` (patients and how far each search
gets), `timelines` (each case's events, dated by the scheduler), `matching` (the candidate matcher),
`plan` (the whole year, before anything is written) and `load` (writing it through the services).
"""

from donorflow.demo_year.calendar import YEAR
from donorflow.demo_year.load import ACTOR, DEMO_ORGANISER, SEED_FIGURES, replay_zhengzhou_2021

__all__ = ["ACTOR", "DEMO_ORGANISER", "SEED_FIGURES", "YEAR", "replay_zhengzhou_2021"]
