"""`donorflow users …` on both databases, in process (typer's runner): exit codes, zh-CN-first one-line
errors, the token printed once, a listing that never shows a hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select
from typer.testing import CliRunner

from donorflow import bootstrap
from donorflow.cli import app
from donorflow.settings import Settings
from donorflow.web import first_admin
from models.accounts import LoginOutcome, Throttle, User, attempt_login, user_for_token, verify_password
from models.core import transaction, utcnow
from tests.dashboard_support import PASSWORD

runner = CliRunner()


@pytest.fixture(autouse=True)
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = Settings(_env_file=None, database_url=database_url, var_dir=tmp_path, secrets_dir=tmp_path)
    monkeypatch.setattr(bootstrap, "get_settings", lambda: settings)
    return settings


def test_make_up_creates_the_first_admin_once_with_a_password_printed_once(
    session: Session, settings: Settings
) -> None:
    [line] = list(first_admin(settings))
    password = line.split("admin / ")[1].split()[0]
    assert len(password) == 16 and "只显示这一次" in line
    with transaction(session):
        outcome = attempt_login(
            session=session, name="admin", password=password, client="t", now=utcnow(), throttle=Throttle()
        )
    assert outcome.outcome == LoginOutcome.OK and outcome.user is not None and outcome.user.role == "admin"
    [again] = list(first_admin(settings))
    assert password not in again and "your dashboard user" in again


def test_the_first_admin_password_may_come_from_the_environment(session: Session, settings: Settings) -> None:
    given = settings.model_copy(update={"admin_password": SecretStr(PASSWORD)})
    [line] = list(first_admin(given))
    assert PASSWORD not in line and "DONORFLOW_ADMIN_PASSWORD" in line
    stored = session.exec(select(User)).one()
    assert verify_password(stored.password_hash, PASSWORD)


def test_add_token_and_list_a_user(session: Session) -> None:
    added = runner.invoke(
        app, ["users", "add", "李老师", "--role", "coordinator", "--password-stdin"], input=PASSWORD
    )
    assert added.exit_code == 0, added.output
    assert "已添加用户 user added: 李老师 (coordinator)" in added.stderr

    issued = runner.invoke(app, ["users", "token", "李老师"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert token.startswith("dft_") and "只显示这一次" in issued.stderr
    session.expire_all()
    user = user_for_token(session=session, token=token)
    assert user is not None and user.name == "李老师"

    listed = runner.invoke(app, ["users", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["role"], row["active"], row["has_token"]) == (
        "李老师",
        "coordinator",
        True,
        True,
    )
    stored = session.exec(select(User)).one()
    assert stored.password_hash not in listed.stdout and str(stored.token_hash) not in listed.stdout
    assert PASSWORD not in listed.stdout + added.output

    assert runner.invoke(app, ["users", "deactivate", "李老师"]).exit_code == 0
    session.expire_all()
    assert user_for_token(session=session, token=token) is None
    [row] = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert (row["active"], row["has_token"]) == (False, False)
    assert runner.invoke(app, ["users", "activate", "李老师"]).exit_code == 0
    assert user_for_token(session=session, token=token) is None  # a reactivated user needs a new token


ADD_LI = ["users", "add", "li", "--role", "viewer", "--password-stdin"]
ERRORS = [  # arguments, standard input, exit code, what stderr says (in order: the last is a conflict)
    (ADD_LI, "short", 2, "密码太短"),
    (ADD_LI, "", 2, "标准输入没有密码"),
    (["users", "add", "li", "--role", "viewer"], "", 2, "请用 --password-stdin"),
    (["users", "token", "nobody"], None, 3, "没有该用户 no such user: nobody"),
    (["users", "password", "nobody", "--password-stdin"], PASSWORD, 3, "没有该用户"),
    (ADD_LI, PASSWORD, 0, "已添加用户"),
    (ADD_LI, PASSWORD, 4, "用户已存在 the user already exists: li"),
    (["users", "add", "boss", "--role", "admin", "--password-stdin"], PASSWORD, 0, "已添加用户"),
    (["users", "deactivate", "boss"], None, 2, "不能停用最后一位管理员"),
    (["users", "deactivate", "nobody"], None, 3, "没有该用户"),
]


def test_errors_are_one_zh_cn_first_line_with_an_exit_code(session: Session) -> None:
    for args, stdin, code, message in ERRORS:
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr
        assert "Traceback" not in result.output
        assert result.stderr.startswith("error:") or code == 0
