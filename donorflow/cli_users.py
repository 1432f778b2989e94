"""`donorflow users add | password | token | deactivate | activate | list`: the dashboard's staff
accounts (issue 12).

Passwords come from standard input (`--password-stdin`, one line) or a hidden prompt, never from the
command line (it would sit in the shell history and `ps`). They reuse the main CLI's session and error
handling, imported when a command runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from models.accounts import Role, add_user, issue_token, list_users, set_active, set_password
from models.core import SHANGHAI, transaction

__all__ = ["users_app"]

users_app = typer.Typer(help="用户 Dashboard users: logins, roles and API tokens.", no_args_is_help=True)

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="登录名 The login name, e.g. li.laoshi or 李老师.")
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="从标准输入读取密码（一行） Read the password from stdin.")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _read_password(from_stdin: bool) -> str:
    from donorflow.cli import _fail

    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            _fail("标准输入没有密码 no password on standard input (one line expected)", 2)
        return password
    if not sys.stdin.isatty():
        _fail("没有终端可输入密码，请用 --password-stdin no terminal to ask on: use --password-stdin", 2)
    first = typer.prompt("密码 Password", hide_input=True)
    if typer.prompt("再输一次 Again", hide_input=True) != first:
        _fail("两次输入的密码不一致 the two passwords differ", 2)
    return str(first)


@users_app.command("add")
def users_add(
    name: NameArgument,
    role: Annotated[Role, typer.Option(help="角色 admin | coordinator | viewer.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """添加用户 Add a dashboard user with a role (viewers see aggregates only)."""
    from donorflow.cli import _session, err

    password = _read_password(password_stdin)
    with _session() as session, transaction(session):
        user = add_user(session=session, name=name, role=role, password=password)
        added = f"{user.name} ({user.role})"
    err.print(f"已添加用户 user added: {added}")


@users_app.command("password")
def users_password(name: NameArgument, password_stdin: PasswordStdin = False) -> None:
    """修改密码 Set a user's password."""
    from donorflow.cli import _session, err

    password = _read_password(password_stdin)
    with _session() as session, transaction(session):
        name = set_password(session=session, name=name, password=password).name
    err.print(f"已修改密码 password set: {name}")


@users_app.command("token")
def users_token(name: NameArgument) -> None:
    """签发 API 令牌（只显示一次，旧令牌失效） Issue an API token, printed once; the old one stops working."""
    from donorflow.cli import _session, err, out

    with _session() as session, transaction(session):
        token = issue_token(session=session, name=name)
    out.file.write(token + "\n")
    err.print("只显示这一次，请妥善保存 shown this once: keep it safe (Authorization: Bearer <token>)")


@users_app.command("deactivate")
def users_deactivate(name: NameArgument) -> None:
    """停用用户（立即登出，令牌作废） Deactivate a user: logged out at once, the API token void."""
    from donorflow.cli import _session, err

    with _session() as session, transaction(session):
        name = set_active(session=session, name=name, active=False).name
    err.print(f"已停用 deactivated: {name}")


@users_app.command("activate")
def users_activate(name: NameArgument) -> None:
    """重新启用用户 Reactivate a user (a new API token is needed)."""
    from donorflow.cli import _session, err

    with _session() as session, transaction(session):
        name = set_active(session=session, name=name, active=True).name
    err.print(f"已启用 activated: {name}")


@users_app.command("list")
def users_list(json_: JsonFlag = False) -> None:
    """列出用户 List the users (never a password or a token)."""
    from donorflow.cli import _print_json, _session, out

    with _session() as session:
        users = list_users(session=session)
    if json_:
        _print_json([user.model_dump(mode="json") for user in users])
        return
    table = Table(
        "用户 name", "角色 role", "启用 active", "API 令牌 token", "创建 created", "上次登录 last login"
    )
    table.columns[1].no_wrap = True
    for user in users:
        table.add_row(
            user.name,
            user.role.value,
            "是 yes" if user.active else "否 no",
            "有 yes" if user.has_token else "无 no",
            user.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            user.last_login_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if user.last_login_at else "",
        )
    out.print(table)
