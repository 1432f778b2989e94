"""Cases (issue 12 items 2 and 4): the list with filters and search, a case's page, the audited reveal of
a member's contact details, and the admins' list of reveals. Coordinators and admins only: viewers read
aggregates (403). Everything comes from services in models/; nothing personal but a reveal's answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from dashboard.render import page
from dashboard.security import DbSession, check_csrf, config_of, page_user, require_role
from models.accounts import Role, User
from models.cases import (
    REVEAL_REASONS,
    CaseFilter,
    CaseStage,
    CaseStatus,
    ContactDetails,
    drive_choices,
    grade_details,
    list_reveals,
    reveal_contact,
    search_cases,
)
from models.core import DonorflowError, NotFoundError, Session, transaction
from models.outreach import MEMBER_CHANNELS
from models.reminders import case_file

__all__ = ["WORKERS", "case_page", "cases_pages", "refused_page"]

cases_pages = APIRouter(dependencies=[Depends(page_user), Depends(check_csrf)])
WORKERS = Depends(require_role(Role.COORDINATOR, Role.ADMIN))
Worker = Annotated[User, WORKERS]
Admin = Annotated[User, Depends(require_role(Role.ADMIN))]
_PER_PAGE = 50
_Text = Annotated[str | None, Query(max_length=100)]


def _problem_of(exc: DonorflowError) -> tuple[int, tuple[str, dict[str, Any]]]:
    """A service's refusal as a status and a message (zh-CN first, the service's own words after it)."""
    kind = type(exc).__name__
    key, code = {
        "ConflictError": ("cases.error.conflict", status.HTTP_409_CONFLICT),
        "NotFoundError": ("cases.error.not_found", status.HTTP_404_NOT_FOUND),
    }.get(kind, ("cases.error.refused", status.HTTP_400_BAD_REQUEST))
    return code, (key, {"detail": str(exc)})


def refused_page(request: Request, session: Session, case_id: str, exc: DonorflowError) -> HTMLResponse:
    """The case page again, saying why a service refused (409 conflict, 404, 400 for a rule)."""
    code, problem = _problem_of(exc)
    return case_page(request, session, case_id, status_code=code, error=problem)


def case_page(
    request: Request,
    session: Session,
    case_id: str,
    *,
    status_code: int = 200,
    error: tuple[str, dict[str, Any]] | None = None,
    contact: ContactDetails | None = None,
) -> HTMLResponse:
    try:
        file = case_file(session=session, case_id=case_id)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None
    flash = request.session.pop("flash", None)
    return page(
        request,
        "case.html",
        status_code=status_code,
        file=file,
        grade_details=[grade_details(grade) for grade in file.grades],  # beside file.grades, in its order
        now=config_of(request).clock(),
        error=error,
        flash=flash if isinstance(flash, list) and len(flash) == 2 else None,
        contact=contact,
        reasons=REVEAL_REASONS,
        channels=MEMBER_CHANNELS,
    )


def _drive(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@cases_pages.get("/cases", response_class=HTMLResponse, include_in_schema=False)
def cases_list(
    request: Request,
    session: DbSession,
    _user: Worker,
    stage: _Text = None,
    status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    overdue: _Text = None,
    drive: _Text = None,
    patient: _Text = None,
    member: _Text = None,
    q: _Text = None,
    page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    where = CaseFilter(
        stage=stage if stage in {s.value for s in CaseStage} else None,
        status=status_ if status_ in {s.value for s in CaseStatus} else None,
        overdue=overdue == "1",
        drive_id=_drive(drive),
        patient_code=patient or None,
        member_code=member or None,
        text=q or None,
    )
    found = search_cases(
        session=session, where=where, now=config_of(request).clock(), page=page_, per_page=_PER_PAGE
    )
    query = [(key, value) for key, value in request.query_params.multi_items() if key not in {"page", "lang"}]
    return page(
        request,
        "cases.html",
        found=found,
        where=where,
        stages=[s.value for s in CaseStage],
        statuses=[s.value for s in CaseStatus],
        drives=drive_choices(session=session),
        query=query,
    )


@cases_pages.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def case_view(request: Request, session: DbSession, _user: Worker, case_id: str) -> HTMLResponse:
    return case_page(request, session, case_id)


@cases_pages.post("/cases/{case_id}/reveal", response_class=HTMLResponse, include_in_schema=False)
def reveal(
    request: Request,
    session: DbSession,
    user: Worker,
    case_id: str,
    reason: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """The member's contact details, in this response only (a POST: never in a URL, never cached), the
    reveal recorded first. Not logged: the values pass from the service to the template only."""
    assert user.id is not None
    try:
        with transaction(session):
            contact = reveal_contact(
                session=session, case_id=case_id, user_id=user.id, actor=user.name, reason=reason, note=note
            )
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None
    except DonorflowError as exc:
        return refused_page(request, session, case_id, exc)
    return case_page(request, session, case_id, contact=contact)


@cases_pages.get("/reveals", response_class=HTMLResponse, include_in_schema=False)
def reveals(request: Request, session: DbSession, _admin: Admin) -> HTMLResponse:
    return page(request, "reveals.html", rows=list_reveals(session=session))
