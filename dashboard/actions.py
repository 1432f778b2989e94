"""What coordinators did in a shell until now (issue 12 item 5), as POST forms on a case's page: start
re-mobilisation (the `remobilise` deployment, through Prefect's REST API), release a stuck case, record
an opt-out, withdraw the member and record a death (both after a confirmation page). Each calls the same
models/ service as the CLI, with the logged-in user as the actor of its audit row; a refusal (conflict,
broken rule) is the case page with the reason, never a 500. Coordinators and admins only (403).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.cases import Worker, case_page, cases_pages, refused_page
from dashboard.prefect_api import PrefectApi, PrefectUnavailable
from dashboard.render import page
from dashboard.security import DbSession, config_of
from models.cases import CaseStage, describe_case, ensure_startable, record_run_request, release_claim
from models.core import DonorflowError, NotFoundError, Session, local_date, transaction
from models.outreach import set_opt_out, withdraw_member
from models.reminders import record_death

__all__: list[str] = []

log = logging.getLogger("donorflow.dashboard")

# The deployment a screened case goes to (prefect.yaml: name remobilise, flow remobilise).
REMOBILISE = ("remobilise", "remobilise")
_Confirm = Annotated[str, Form(max_length=8)]


def _done(request: Request, case_id: str, key: str, **values: str) -> Response:
    """Done: back to the case page (a reload does not post again), which says once what was done. The
    message rides in the session: codes and run ids only (the cookie is signed, not secret)."""
    request.session["flash"] = [key, values]
    return RedirectResponse(f"/cases/{case_id}", status_code=status.HTTP_303_SEE_OTHER)


def _member_code(session: Session, case_id: str) -> str:
    try:
        return describe_case(session=session, case_id=case_id).member_code
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None


@cases_pages.post("/cases/{case_id}/remobilise", include_in_schema=False)
def start_remobilisation(request: Request, session: DbSession, user: Worker, case_id: str) -> Response:
    config = config_of(request)
    try:
        case = ensure_startable(session=session, case_id=case_id, stage=CaseStage.SCREENED.value)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None
    except DonorflowError as exc:
        return refused_page(request, session, case_id, exc)
    # Keyed by the case's version: pressed again (or by a second coordinator) before the run has claimed
    # the case, Prefect gives back the same run; once a run took and released the case (cancelled, the
    # claim freed), the version moved on and a new start is a new run. Found walking the workbench: two
    # presses made two runs, and the second failed in Prefect with a conflict.
    key = f"dashboard:remobilise:{case_id}:v{case.version}"
    session.rollback()  # nothing written: end the read before the (slower) call to Prefect
    try:
        run_id, new = PrefectApi(config.prefect_api_url, config.prefect_timeout).start_deployment(
            *REMOBILISE, {"case_id": case_id}, idempotency_key=key
        )
    except PrefectUnavailable:
        problem = ("cases.error.prefect", {"api": config.prefect_api_url or "—"})
        return case_page(
            request, session, case_id, status_code=status.HTTP_503_SERVICE_UNAVAILABLE, error=problem
        )
    if not new:
        return _done(request, case_id, "cases.done.remobilise_already", run=run_id)
    with transaction(session):
        record_run_request(session=session, case_id=case_id, flow_run_id=run_id, actor=user.name)
    log.info("remobilise run %s started for case %s by user %s", run_id, case_id, user.id)
    return _done(request, case_id, "cases.done.remobilise", run=run_id)


@cases_pages.post("/cases/{case_id}/release", include_in_schema=False)
def release(
    request: Request,
    session: DbSession,
    user: Worker,
    case_id: str,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """`donorflow cases release CASE --reason …`: free a case its stage run still holds, audited."""
    try:
        with transaction(session):
            held_by = release_claim(session=session, case_id=case_id, actor=user.name, reason=reason)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None
    except DonorflowError as exc:
        return refused_page(request, session, case_id, exc)
    return _done(request, case_id, "cases.done.release", run=held_by)


@cases_pages.post("/cases/{case_id}/opt-out", include_in_schema=False)
def opt_out(
    request: Request,
    session: DbSession,
    user: Worker,
    case_id: str,
    channel: Annotated[str, Form(max_length=16)] = "",
    undo: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """`donorflow notify opt-out CODE --channel …` (`--undo`): audited, conditional on the version."""
    code = _member_code(session, case_id)
    try:
        with transaction(session):
            set_opt_out(session=session, code=code, channel=channel, opted_out=undo != "1", actor=user.name)
    except DonorflowError as exc:
        return refused_page(request, session, case_id, exc)
    key = "cases.done.opt_in" if undo == "1" else "cases.done.opt_out"
    return _done(request, case_id, key, member=code, channel=channel)


@cases_pages.get("/cases/{case_id}/withdraw", response_class=HTMLResponse, include_in_schema=False)
def withdraw_confirm(request: Request, session: DbSession, _user: Worker, case_id: str) -> HTMLResponse:
    return page(
        request, "case_confirm.html", what="withdraw", case_id=case_id, member=_member_code(session, case_id)
    )


@cases_pages.post("/cases/{case_id}/withdraw", include_in_schema=False)
def withdraw(
    request: Request, session: DbSession, user: Worker, case_id: str, confirm: _Confirm = ""
) -> Response:
    """`donorflow donors withdraw CODE`: erase the member's personal data, stop their messages, confirm."""
    code = _member_code(session, case_id)
    if confirm != "yes":
        return page(
            request,
            "case_confirm.html",
            status_code=status.HTTP_400_BAD_REQUEST,
            what="withdraw",
            case_id=case_id,
            member=code,
            error=("cases.confirm.missing", {}),
        )
    try:
        with transaction(session):
            withdraw_member(session=session, code=code, actor=user.name)
    except DonorflowError as exc:
        return refused_page(request, session, case_id, exc)
    return _done(request, case_id, "cases.done.withdraw", member=code)


@cases_pages.get("/cases/{case_id}/death", response_class=HTMLResponse, include_in_schema=False)
def death_confirm(request: Request, session: DbSession, _user: Worker, case_id: str) -> HTMLResponse:
    today = local_date(config_of(request).clock()).isoformat()
    return page(
        request,
        "case_confirm.html",
        what="death",
        case_id=case_id,
        member=_member_code(session, case_id),
        today=today,
    )


@cases_pages.post("/cases/{case_id}/death", include_in_schema=False)
def death(
    request: Request,
    session: DbSession,
    user: Worker,
    case_id: str,
    died_on: Annotated[str, Form(max_length=20)] = "",
    confirm: _Confirm = "",
) -> Response:
    """`donorflow donors deceased CODE --on DATE`: nothing is sent to them again, tasks to close cases."""
    code = _member_code(session, case_id)
    try:
        day = date.fromisoformat(died_on)
    except ValueError:
        day = None
    if confirm != "yes" or day is None:
        return page(
            request,
            "case_confirm.html",
            status_code=status.HTTP_400_BAD_REQUEST,
            what="death",
            case_id=case_id,
            member=code,
            today=died_on or local_date(config_of(request).clock()).isoformat(),
            error=("cases.confirm.missing" if day else "cases.confirm.bad_date", {}),
        )
    try:
        with transaction(session):
            record_death(
                session=session, code=code, died_on=day, actor=user.name, at=config_of(request).clock()
            )
    except DonorflowError as exc:
        return refused_page(request, session, case_id, exc)
    return _done(request, case_id, "cases.done.death", member=code, day=day.isoformat())
