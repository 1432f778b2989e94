"""The funnel dashboard page (`/`), its CSV and xlsx downloads, and the same tables as JSON under /api.

The page: a period (default: this year in Shanghai) and optionally a second one to compare with, the
seven counts with their conversions, completed collections, days in each stage, drop-out reasons,
availability at re-mobilisation, drives and districts; two SVG charts. Every role may read it: these
are aggregates (counts, drive names, districts), never a member.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from dashboard.analytics import TABLE_KEYS, Kind, Period, Table, build_tables, shift_year
from dashboard.charts import Series, bar_chart
from dashboard.export import CSV_TYPE, XLSX_TYPE, to_csv, to_xlsx
from dashboard.i18n import Translator
from dashboard.render import page
from dashboard.security import DbSession, api_user, check_csrf, config_of, page_user
from models.cases import (
    Availability,
    DistrictOutcome,
    DriveOutcome,
    Dropouts,
    PeriodFunnel,
    StageDuration,
    availability,
    district_outcomes,
    drive_outcomes,
    dropouts,
    funnel_period,
    period_funnel,
    stage_durations,
)
from models.core import ValidationError, local_date

__all__ = ["funnel_api", "funnel_pages"]

funnel_pages = APIRouter(dependencies=[Depends(page_user), Depends(check_csrf)])
funnel_api = APIRouter(prefix="/api/funnel", dependencies=[Depends(api_user)])

_Day = Annotated[str | None, Query(max_length=40)]


def _periods(
    request: Request, start: str | None, end: str | None, cstart: str | None, cend: str | None
) -> tuple[Period, Period | None]:
    """The period asked for (default: this year in Shanghai) and the one to compare with, if any;
    ValidationError for a bad date, a period ending before it starts, or half a second period."""
    year = local_date(config_of(request).clock()).year
    first = Period(
        *funnel_period(start or date(year, 1, 1).isoformat(), end or date(year, 12, 31).isoformat())
    )
    if not cstart and not cend:
        return first, None
    if not cstart or not cend:
        raise ValidationError("the second period needs both its start and its end")
    return first, Period(*funnel_period(cstart, cend))


def _query(period: Period, compare: Period | None) -> str:
    pairs = [("from", period.start.isoformat()), ("to", period.end.isoformat())]
    if compare is not None:
        pairs += [("cfrom", compare.start.isoformat()), ("cto", compare.end.isoformat())]
    return urlencode(pairs)


def _charts(t: Translator, tables: dict[str, Table], periods: list[Period]) -> list[object]:
    names = [p.label for p in periods]
    funnel = tables["funnel"]
    counts = [Series(name, [row[1 + 2 * i] for row in funnel.rows]) for i, name in enumerate(names)]  # type: ignore[misc]
    durations = tables["durations"]
    medians = [Series(name, [row[2 + 3 * i] for row in durations.rows]) for i, name in enumerate(names)]  # type: ignore[misc]
    return [
        bar_chart(
            title=t("fx.chart.funnel"),
            labels=[str(row[0]) for row in funnel.rows],
            series=counts,
            chart_id="chart-funnel",
        ),
        bar_chart(
            title=t("fx.chart.durations"),
            labels=[str(row[0]) for row in durations.rows],
            series=medians,
            chart_id="chart-durations",
        ),
    ]


@funnel_pages.get("/", response_class=HTMLResponse, include_in_schema=False)
def funnel_page(
    request: Request,
    session: DbSession,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: _Day = None,
    cfrom: _Day = None,
    cto: _Day = None,
) -> HTMLResponse:
    """The funnel for a period, the same counts as `donorflow funnel`, and its breakdowns."""
    t = Translator(request.state.lang)
    try:
        period, compare = _periods(request, from_, to, cfrom, cto)
    except ValidationError as exc:
        return page(
            request,
            "funnel.html",
            status_code=status.HTTP_400_BAD_REQUEST,
            error=("funnel.bad_period", {"detail": str(exc)}),
            start=from_ or "",
            end=to or "",
            cstart=cfrom or "",
            cend=cto or "",
            tables=[],
        )
    tables = build_tables(session=session, t=t, period=period, compare=compare)
    periods = [period] if compare is None else [period, compare]
    previous = shift_year(period, -1)
    return page(
        request,
        "funnel.html",
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        cstart="" if compare is None else compare.start.isoformat(),
        cend="" if compare is None else compare.end.isoformat(),
        compare=compare,
        tables=tables,
        charts=_charts(t, {table.key: table for table in tables}, periods),
        query=_query(period, compare),
        previous_year_query=_query(period, previous),
        single_query=_query(period, None),
        kinds=Kind,
    )


@funnel_pages.get("/export/{name}.{fmt}", include_in_schema=False)
def export_table(
    request: Request,
    session: DbSession,
    name: str,
    fmt: str,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: _Day = None,
    cfrom: _Day = None,
    cto: _Day = None,
) -> Response:
    """One table of the page as CSV or xlsx, for the same period(s) as the page."""
    if name not in TABLE_KEYS or fmt not in ("csv", "xlsx"):
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    try:
        period, compare = _periods(request, from_, to, cfrom, cto)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    t = Translator(request.state.lang)
    tables = build_tables(session=session, t=t, period=period, compare=compare)
    table = next(table for table in tables if table.key == name)
    stem = f"{name}_{period.start.isoformat()}_{period.end.isoformat()}"
    if compare is not None:
        stem += f"_vs_{compare.start.isoformat()}_{compare.end.isoformat()}"
    body, media = (to_csv(table), CSV_TYPE) if fmt == "csv" else (to_xlsx(table), XLSX_TYPE)
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'}
    )


# The JSON API: each breakdown for one period (from, to: YYYY-MM-DD, inclusive, Asia/Shanghai days).
# Every role may read them (aggregates only); 422 for a bad period, 401 without a token.

_From = Annotated[str, Query(alias="from", max_length=40, description="First day, YYYY-MM-DD.")]
_To = Annotated[str, Query(max_length=40, description="Last day, inclusive, YYYY-MM-DD.")]


def _api_period(start: str, end: str) -> Period:
    try:
        return Period(*funnel_period(start, end))
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None


@funnel_api.get("/period", response_model=PeriodFunnel)
def api_period(session: DbSession, from_: _From, to: _To) -> PeriodFunnel:
    """The seven counts, completed collections and the conversions (docs/FUNNEL.md)."""
    p = _api_period(from_, to)
    return period_funnel(session=session, start=p.start, end=p.end)


@funnel_api.get("/durations", response_model=list[StageDuration])
def api_durations(session: DbSession, from_: _From, to: _To) -> list[StageDuration]:
    """Median and 90th-percentile days in each stage, over the stays that ended in the period."""
    p = _api_period(from_, to)
    return stage_durations(session=session, start=p.start, end=p.end)


@funnel_api.get("/dropouts", response_model=list[Dropouts])
def api_dropouts(session: DbSession, from_: _From, to: _To) -> list[Dropouts]:
    """Cases closed in the period by stage and reason category."""
    p = _api_period(from_, to)
    return dropouts(session=session, start=p.start, end=p.end)


@funnel_api.get("/availability", response_model=list[Availability])
def api_availability(session: DbSession, from_: _From, to: _To) -> list[Availability]:
    """The share of members available at re-mobilisation and at work-up, with the published anchors."""
    p = _api_period(from_, to)
    return availability(session=session, start=p.start, end=p.end)


@funnel_api.get("/drives", response_model=list[DriveOutcome])
def api_drives(session: DbSession, from_: _From, to: _To) -> list[DriveOutcome]:
    """The stem-cell drives held in the period and how far their members went."""
    p = _api_period(from_, to)
    return drive_outcomes(session=session, start=p.start, end=p.end)


@funnel_api.get("/districts", response_model=list[DistrictOutcome])
def api_districts(session: DbSession, from_: _From, to: _To) -> list[DistrictOutcome]:
    """The same by the drives' district."""
    p = _api_period(from_, to)
    return district_outcomes(session=session, start=p.start, end=p.end)
