"""Accounts (issue 12): the dashboard's staff users, roles, passwords, API tokens and login throttling.
Depends on core only; no web framework here (dashboard/ puts these services behind HTTP)."""

from models.accounts.credentials import (
    PASSWORD_MIN,
    check_password_rules,
    hash_token,
    new_password,
    verify_password,
)
from models.accounts.login import LoginOutcome, LoginResult, Throttle, attempt_login, failures
from models.accounts.tables import LoginAttempt, Role, User, UserPublic
from models.accounts.users import (
    FIRST_ADMIN,
    add_user,
    check_name,
    coordinator_names,
    ensure_first_admin,
    find_user,
    issue_token,
    list_users,
    set_active,
    set_password,
    user_by_id,
    user_for_token,
)

__all__ = [
    "FIRST_ADMIN",
    "PASSWORD_MIN",
    "LoginAttempt",
    "LoginOutcome",
    "LoginResult",
    "Role",
    "Throttle",
    "User",
    "UserPublic",
    "add_user",
    "attempt_login",
    "check_name",
    "coordinator_names",
    "check_password_rules",
    "ensure_first_admin",
    "failures",
    "find_user",
    "hash_token",
    "issue_token",
    "list_users",
    "new_password",
    "set_active",
    "set_password",
    "user_by_id",
    "user_for_token",
    "verify_password",
]
