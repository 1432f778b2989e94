"""The funnel dashboard's tables (issue 12 item 6): one period or two side by side, with the breakdowns.

Each table is built once, as translated headers and typed cells, and that one object is what the page
shows, what the CSV and xlsx downloads hold (dashboard/export.py) and what the charts draw
(dashboard/charts.py): the three cannot disagree. The numbers come from models/cases/analytics.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dashboard.i18n import Translator
from models.cases import (
    DROPOUT_CATEGORIES,
    FUNNEL_KEYS,
    OUTCOME_STAGES,
    PeriodFunnel,
    availability,
    district_outcomes,
    drive_outcomes,
    dropouts,
    period_funnel,
    stage_durations,
)
from models.core import Session

__all__ = ["TABLE_KEYS", "Kind", "Period", "Table", "build_tables", "shift_year"]


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    PCT = "pct"  # a share 0–1, shown as a percentage
    DAYS = "days"  # days, one decimal


Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind
    css: str = ""  # a class for the page's cells (the funnel's "count" cells are read by tests and scripts)


@dataclass
class Table:
    key: str  # the id on the page and the name of the download
    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    row_keys: list[str] = field(default_factory=list)  # data-* on the page; the stage key for the funnel
    note: str = ""


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def label(self) -> str:
        """A calendar year as its number (the usual comparison, short enough for a column header)."""
        if (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31):
            if self.start.year == self.end.year:
                return str(self.start.year)
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


TABLE_KEYS = ("funnel", "collections", "durations", "dropouts", "availability", "drives", "districts")


def shift_year(period: Period, years: int) -> Period:
    """The same days `years` later (29 February becomes 28 February)."""

    def move(day: date) -> date:
        try:
            return day.replace(year=day.year + years)
        except ValueError:
            return day.replace(year=day.year + years, day=28)

    return Period(move(period.start), move(period.end))


def build_tables(*, session: Session, t: Translator, period: Period, compare: Period | None) -> list[Table]:
    """Every table of the page, in page order."""
    periods = [period] if compare is None else [period, compare]
    funnels = [period_funnel(session=session, start=p.start, end=p.end) for p in periods]
    return [
        _funnel(t, periods, funnels),
        _collections(t, periods, funnels),
        _durations(session, t, periods),
        _dropouts(session, t, period),
        _availability(session, t, periods),
        _drives(session, t, period),
        _districts(session, t, period),
    ]


def _suffix(periods: list[Period], index: int) -> str:
    """A column's period, when two are shown."""
    return f" ({periods[index].label})" if len(periods) > 1 else ""


def _funnel(t: Translator, periods: list[Period], funnels: list[PeriodFunnel]) -> Table:
    columns = [Column(t("funnel.stage"), Kind.TEXT)]
    for i in range(len(periods)):
        second = "-b" if i else ""
        columns += [
            Column(t("funnel.count") + _suffix(periods, i), Kind.INT, f"count{second}"),
            Column(t("funnel.of_previous") + _suffix(periods, i), Kind.PCT, f"rate{second}"),
        ]
    if len(periods) > 1:
        columns.append(Column(t("fx.change"), Kind.PCT, "change"))
    table = Table("funnel", t("fx.table.funnel"), columns, note=t("fx.def.funnel"))
    for key in FUNNEL_KEYS:
        row: list[Cell] = [t(f"stage.{key}")]
        values = []
        for funnel in funnels:
            value = getattr(funnel.counts, key)
            values.append(value)
            row += [value, funnel.conversion.get(key)]
        if len(periods) > 1:
            row.append(round(values[0] / values[1] - 1, 4) if values[1] else None)
        table.rows.append(row)
        table.row_keys.append(key)
    return table


def _collections(t: Translator, periods: list[Period], funnels: list[PeriodFunnel]) -> Table:
    columns = [Column(t("fx.measure"), Kind.TEXT)] + [
        Column(t("fx.value") + _suffix(periods, i), Kind.TEXT) for i in range(len(periods))
    ]
    table = Table("collections", t("fx.table.collections"), columns, note=t("fx.def.collections"))
    lines: list[tuple[str, list[Cell]]] = [
        ("completed_collections", [f.completed_collections for f in funnels]),
        ("collected_of_donations", [_pct(f.collected_of_donations) for f in funnels]),
        ("registered_per_drive", [f.registered_per_drive for f in funnels]),
    ]
    for key, values in lines:
        table.rows.append([t(f"fx.{key}"), *values])
        table.row_keys.append(key)
    return table


def _pct(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:.1f}%"


def _durations(session: Session, t: Translator, periods: list[Period]) -> Table:
    columns = [Column(t("funnel.stage"), Kind.TEXT)]
    results = []
    for i, p in enumerate(periods):
        columns += [
            Column(t("fx.stays") + _suffix(periods, i), Kind.INT),
            Column(t("fx.median_days") + _suffix(periods, i), Kind.DAYS),
            Column(t("fx.p90_days") + _suffix(periods, i), Kind.DAYS),
        ]
        results.append(stage_durations(session=session, start=p.start, end=p.end))
    table = Table("durations", t("fx.table.durations"), columns, note=t("fx.def.durations"))
    for index, first in enumerate(results[0]):
        row: list[Cell] = [t(f"fx.stage.{first.stage}")]
        for result in results:
            found = result[index]
            row += [found.stays, found.median_days, found.p90_days]
        table.rows.append(row)
        table.row_keys.append(first.stage)
    return table


def _dropouts(session: Session, t: Translator, period: Period) -> Table:
    columns = [Column(t("funnel.stage"), Kind.TEXT)]
    columns += [Column(t(f"fx.dropout.{category}"), Kind.INT) for category in DROPOUT_CATEGORIES]
    columns.append(Column(t("fx.total"), Kind.INT))
    table = Table("dropouts", t("fx.table.dropouts", period=period.label), columns, note=t("fx.def.dropouts"))
    for row in dropouts(session=session, start=period.start, end=period.end):
        cells: list[Cell] = [t(f"fx.stage.{row.stage}")]
        table.rows.append([*cells, *(row.by_category[c] for c in DROPOUT_CATEGORIES), row.total])
        table.row_keys.append(row.stage)
    return table


def _availability(session: Session, t: Translator, periods: list[Period]) -> Table:
    columns = [Column(t("fx.point"), Kind.TEXT)]
    results = []
    for i, p in enumerate(periods):
        columns += [
            Column(t("fx.available") + _suffix(periods, i), Kind.INT),
            Column(t("fx.unavailable") + _suffix(periods, i), Kind.INT),
            Column(t("fx.excluded") + _suffix(periods, i), Kind.INT),
            Column(t("fx.share_available") + _suffix(periods, i), Kind.PCT),
        ]
        results.append(availability(session=session, start=p.start, end=p.end))
    columns.append(Column(t("fx.anchor"), Kind.PCT))
    table = Table("availability", t("fx.table.availability"), columns, note=t("fx.def.availability"))
    for index, first in enumerate(results[0]):
        row: list[Cell] = [t(f"fx.point.{first.stage}")]
        for result in results:
            found = result[index]
            row += [found.available, found.unavailable, found.excluded, found.share]
        table.rows.append([*row, first.anchor])
        table.row_keys.append(first.stage)
    return table


def _outcome_columns(t: Translator) -> list[Column]:
    return [Column(t(f"fx.reached.{stage.value}"), Kind.INT) for stage in OUTCOME_STAGES]


def _drives(session: Session, t: Translator, period: Period) -> Table:
    columns = [
        Column(t("fx.drive"), Kind.TEXT),
        Column(t("fx.held_on"), Kind.TEXT),
        Column(t("fx.district"), Kind.TEXT),
        Column(t("fx.registered"), Kind.INT),
        *_outcome_columns(t),
    ]
    table = Table("drives", t("fx.table.drives", period=period.label), columns, note=t("fx.def.drives"))
    for drive in drive_outcomes(session=session, start=period.start, end=period.end):
        table.rows.append(
            [
                drive.name,
                drive.held_on.isoformat(),
                drive.district or t("fx.no_district"),
                drive.registered,
                *(drive.reached[stage.value] for stage in OUTCOME_STAGES),
            ]
        )
        table.row_keys.append(str(drive.drive_id))
    return table


def _districts(session: Session, t: Translator, period: Period) -> Table:
    columns = [
        Column(t("fx.district"), Kind.TEXT),
        Column(t("fx.drives"), Kind.INT),
        Column(t("fx.registered"), Kind.INT),
        *_outcome_columns(t),
    ]
    table = Table(
        "districts", t("fx.table.districts", period=period.label), columns, note=t("fx.def.districts")
    )
    for district in district_outcomes(session=session, start=period.start, end=period.end):
        table.rows.append(
            [
                district.district or t("fx.no_district"),
                district.drives,
                district.registered,
                *(district.reached[stage.value] for stage in OUTCOME_STAGES),
            ]
        )
        table.row_keys.append(district.district or "")
    return table
