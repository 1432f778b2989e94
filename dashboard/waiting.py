"""Waiting for me (issue 12 item 3): the flow runs paused or suspended for a coordinator's answer, read
from Prefect's REST API, the longest waiting first, each with what it asks, since when, its case and a
link to its page in the Prefect UI (where Resume is); beside them the cases over their stage deadline
(models.cases.list_overdue). Prefect unreachable: the page says so (503), the overdue cases still show.
"""

from __future__ import annotations

from fastapi import Request, status
from fastapi.responses import HTMLResponse

from dashboard.cases import Worker, cases_pages
from dashboard.prefect_api import PrefectApi, PrefectUnavailable, WaitingRun
from dashboard.render import page
from dashboard.security import DbSession, config_of
from models.cases import list_overdue

__all__: list[str] = []


@cases_pages.get("/waiting", response_class=HTMLResponse, include_in_schema=False)
def waiting(request: Request, session: DbSession, _user: Worker) -> HTMLResponse:
    config = config_of(request)
    overdue = list_overdue(session=session, now=config.clock())
    session.rollback()  # end the read before the calls to Prefect
    runs: list[WaitingRun] = []
    unavailable = False
    try:
        runs = PrefectApi(config.prefect_api_url, config.prefect_timeout).waiting_runs()
    except PrefectUnavailable:
        unavailable = True
    return page(
        request,
        "waiting.html",
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE if unavailable else 200,
        runs=runs,
        unavailable=unavailable,
        overdue=overdue,
        now=config.clock(),
    )
