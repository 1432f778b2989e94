"""`donorflow notify dispatch | status | opt-out` as an operator types them: a real process, a real
database (SQLite: these commands add no SQL of their own beyond the services tested on both backends)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from models.core import StageEvent, transaction
from models.outreach import Outbox, enqueue
from models.registry import Donor
from tests.databases import empty_all_tables, fresh_database
from tests.e2e.test_cli import CliRunner
from tests.factories import add_donor
from tests.integration.notifications.dispatch_support import write_templates


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("cli-notify")) as url:
        yield url


@pytest.fixture
def run(database_url: str, tmp_path: Path, httpserver: HTTPServer) -> CliRunner:
    """SMS through a gateway on loopback; no e-mail and no coordinator alert target configured."""
    engine = create_engine(database_url)
    empty_all_tables(engine)
    engine.dispose()
    httpserver.expect_request("/sms", method="POST").respond_with_json({"id": "gw-1"})
    return CliRunner(database_url, tmp_path).with_env(
        DONORFLOW_SMS_URL=httpserver.url_for("/sms"),
        DONORFLOW_TEMPLATES_DIR=str(write_templates(tmp_path / "templates")),
        DONORFLOW_QUIET_HOURS="",
    )


def _member_with_messages(database_url: str) -> str:
    engine = create_engine(database_url)
    with Session(engine) as session:
        donor = add_donor(session)
        with transaction(session):
            for key, channel in (("thanks", "sms"), ("by-mail", "email")):
                enqueue(
                    session=session,
                    donor=donor,
                    template_key="donation_thanks",
                    context={"code": donor.code},
                    key=key,
                    channel=channel,
                )
        code = donor.code
    engine.dispose()
    return code


def _statuses(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    with Session(engine) as session:
        found = {row.idempotency_key: row.status for row in session.exec(select(Outbox))}
    engine.dispose()
    return found


def test_dispatch_dry_run_counts_without_sending_then_dispatch_and_status_report(
    run: CliRunner, httpserver: HTTPServer
) -> None:
    _member_with_messages(run.database_url)
    dry = json.loads(run("notify", "dispatch", "--dry-run", "--json").stdout)
    # The SMS goes out; e-mail is not configured: a dead letter, whose alert finds no target either.
    assert dry == {"sent": 1, "retried": 0, "dead": 2, "skipped": 0, "deferred": 0}
    assert _statuses(run.database_url) == {"thanks": "pending", "by-mail": "pending"}
    assert httpserver.log == []

    done = json.loads(run("notify", "dispatch", "--json").stdout)
    assert done == dry
    assert [request.headers["Idempotency-Key"] for request, _ in httpserver.log] == ["thanks"]
    status = json.loads(run("notify", "status", "--json").stdout)
    assert status["counts"] == {"message": {"sent": 1, "dead": 2}}
    assert [(d["key"], d["reason"]) for d in status["dead"]] == [
        ("alert:dead:2", "no channel"),
        ("by-mail", "no channel"),
    ]
    human = run("notify", "status")
    assert "by-mail" not in human.stdout and "no channel" in human.stdout
    for output in (human.stdout, human.stderr, json.dumps(status)):
        assert "13800138000" not in output and "王小明" not in output


def test_opt_out_is_recorded_audited_undone_and_refuses_an_unknown_channel(run: CliRunner) -> None:
    code = _member_with_messages(run.database_url)
    assert json.loads(run("notify", "opt-out", code, "--channel", "sms", "--json").stdout) == {
        "code": code,
        "channel": "sms",
        "opted_out": True,
    }
    assert json.loads(run("notify", "dispatch", "--json").stdout)["skipped"] == 1
    undone = run("notify", "opt-out", code, "--channel", "sms", "--undo", "--actor", "data-manager")
    assert "opted back in to sms" in undone.stdout
    bad = run("notify", "opt-out", code, "--channel", "fax", check=False)
    assert bad.returncode == 2 and "unknown channel" in bad.stderr
    engine = create_engine(run.database_url)
    with Session(engine) as session:
        donor = session.exec(select(Donor).where(Donor.code == code)).one()
        events = session.exec(
            select(StageEvent).where(StageEvent.entity == "contact").order_by(col(StageEvent.id))
        ).all()
    engine.dispose()
    assert not donor.opt_out_sms
    assert [(e.to_state, e.actor.startswith("cli:"), e.actor) for e in events][1] == (
        "opted_in",
        False,
        "data-manager",
    )
    assert events[0].to_state == "opted_out" and events[0].actor.startswith("cli:")
