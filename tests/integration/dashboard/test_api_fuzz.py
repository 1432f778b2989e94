"""An OpenAPI fuzz of /api (schemathesis, from the app's own schema): whatever the query — dates out of
range, odd unicode, missing or repeated parameters — no endpoint answers 500. Bounded: a few examples
per operation, on the hand-worked funnel year, with a viewer's token (aggregates are what viewers read)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from sqlmodel import Session

from models.accounts import Role, issue_token
from models.core import transaction
from tests.dashboard_support import add_staff
from tests.funnel_support import add_funnel_year


@pytest.fixture
def token(session: Session) -> str:
    add_funnel_year(session)
    add_staff(session, "fuzz", Role.VIEWER)
    with transaction(session):
        return issue_token(session=session, name="fuzz")


def test_no_api_query_is_a_server_error(app: FastAPI, token: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "the app's schema has an operation schemathesis cannot read"
    assert len(operations) >= 7  # /api/funnel and its six breakdowns
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
