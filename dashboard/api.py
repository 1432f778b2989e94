"""The JSON API under /api: a bearer token (`donorflow users token NAME`), never the session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from dashboard.security import DbSession, api_user
from models.cases import FunnelCounts, funnel_counts, funnel_period
from models.core import ValidationError

__all__ = ["api"]

api = APIRouter(prefix="/api", dependencies=[Depends(api_user)])


@api.get("/funnel", response_model=FunnelCounts)
def funnel(
    session: DbSession,
    from_: Annotated[str, Query(alias="from", max_length=40, description="First day, YYYY-MM-DD.")],
    to: Annotated[str, Query(max_length=40, description="Last day, inclusive, YYYY-MM-DD.")],
) -> FunnelCounts:
    """The funnel for a period of Asia/Shanghai days: the same JSON as `donorflow funnel --json`.
    Every role may read it (aggregates only)."""
    try:
        start, end = funnel_period(from_, to)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    return funnel_counts(session=session, start=start, end=end)
