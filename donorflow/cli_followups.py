"""`donorflow followups …`: the follow-ups after a donation (issue 11). `spear-report` lists the serious
adverse events and reactions (WMDA S(P)EAR) recorded at follow-ups, for the national registry: CSV on
stdout (opens in Excel), or `--json`. Codes, dates, categories and masked descriptions: no names."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer

from models.intake import safe_cell
from models.reminders import SpearReport, spear_report

__all__ = ["followups_app"]

followups_app = typer.Typer(help="随访 Follow-ups after a donation.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
COLUMNS = ("case_id", "member_code", "follow_up", "category", "contacted_on", "description")


@followups_app.command("spear-report")
def followups_spear_report(
    start: Annotated[str | None, typer.Option("--from", help="First follow-up date, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last follow-up date, YYYY-MM-DD.")] = None,
    json_: JsonFlag = False,
) -> None:
    """严重不良事件报表 Serious adverse events and reactions (WMDA S(P)EAR) recorded at follow-ups, with the
    counts by category: CSV (UTF-8 with BOM, for Excel), or JSON with --json."""
    from donorflow import cli

    first = None if start is None else cli._parse_date(start, "--from")
    last = None if end is None else cli._parse_date(end, "--to")
    with cli._session() as session:
        report = spear_report(session=session, start=first, end=last)
    if json_:
        cli._print_json(_as_json(report))
        return
    _write_csv(report)


def _as_json(report: SpearReport) -> dict[str, object]:
    return {
        "from": report.start,
        "to": report.end,
        "events": [{column: getattr(row, column) for column in COLUMNS} for row in report.rows],
        "counts": report.counts,
        "total": len(report.rows),
    }


def _write_csv(report: SpearReport) -> None:
    """One row per S(P)EAR, then the counts by category under a blank line. Text cells that look like a
    formula are neutralised (OWASP "CSV injection"): the description is typed by a coordinator."""
    sys.stdout.write("\ufeff")  # Excel reads UTF-8 (Chinese) only with a BOM
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow([safe_cell(str(getattr(row, column))) for column in COLUMNS])
    writer.writerow([])
    writer.writerow(("category", "count"))
    for category, count in report.counts.items():
        writer.writerow((category, count))
    writer.writerow(("total", len(report.rows)))
