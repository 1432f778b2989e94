"""`require_role`: the roles named pass, the others get 403, on a page (session) and on the API (token)."""

from __future__ import annotations

import warnings
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from dashboard import require_role
from dashboard.security import api_user, page_user
from models.accounts import Role, User

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

COORDINATOR_WORK = (Role.COORDINATOR, Role.ADMIN)


def _app(role: Role) -> FastAPI:
    """One page and one API route for coordinators and admins; whoever asks has `role`."""
    app = FastAPI()

    @app.get("/work")
    def work(user: Annotated[User, Depends(require_role(*COORDINATOR_WORK))]) -> str:
        return user.name

    @app.get("/api/work")
    def api_work(user: Annotated[User, Depends(require_role(*COORDINATOR_WORK, api=True))]) -> str:
        return user.name

    asker = User(id=1, name="someone", role=role.value, password_hash="x")
    app.dependency_overrides[page_user] = lambda: asker
    app.dependency_overrides[api_user] = lambda: asker
    return app


@pytest.mark.parametrize("role", list(Role))
def test_only_the_named_roles_pass(role: Role) -> None:
    client = TestClient(_app(role))
    expected = 200 if role in COORDINATOR_WORK else 403
    assert client.get("/work").status_code == expected
    assert client.get("/api/work").status_code == expected


def test_a_role_check_names_at_least_one_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        require_role()
