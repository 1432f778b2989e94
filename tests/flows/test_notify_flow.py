"""The dispatcher's flow: one run in the Prefect harness sends what is due and returns counts only; the
one-minute deployment is declared in prefect.yaml."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from prefect.client.schemas.objects import State
from sqlmodel import Session, select

from flows.notify import configure_dispatch, dispatch_notifications
from models.core import transaction
from models.outreach import Outbox, enqueue
from notifications import ChannelSet, Renderer
from notifications.channels import MemoryChannel
from notifications.dispatch import DispatchConfig, DispatchResult, dispatch
from tests.factories import add_donor
from tests.integration.notifications.dispatch_support import write_templates

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def test_the_flow_sends_the_due_messages_and_returns_only_counts(wired: Session, tmp_path: Path) -> None:
    donor = add_donor(wired)
    with transaction(wired):
        enqueue(
            session=wired,
            donor=donor,
            template_key="donation_thanks",
            context={"code": donor.code},
            key="thanks:1",
            channel="sms",
            urgent=True,  # not held by quiet hours, whatever the hour the test runs at
        )
    sms = MemoryChannel("sms")
    engine = wired.get_bind()
    renderer = Renderer(overrides=write_templates(tmp_path / "templates"))

    async def dispatcher() -> DispatchResult:
        return await dispatch(
            session_factory=lambda: Session(engine),
            channels=ChannelSet(members={"sms": sms}),
            renderer=renderer,
            config=DispatchConfig(),
        )

    async def run_flow() -> State[dict[str, int]]:
        return await dispatch_notifications(return_state=True)

    configure_dispatch(dispatcher)
    state = asyncio.run(run_flow())
    assert state.is_completed()
    assert state.result() == {
        "sent": 1,
        "retried": 0,
        "dead": 0,
        "skipped": 0,
        "deferred": 0,
        "events_relayed": 0,
    }
    [message] = sms.sent
    assert message.to == "+8613800138000" and message.idempotency_key == "thanks:1"
    wired.expire_all()
    assert wired.exec(select(Outbox.status)).all() == ["sent"]


def test_the_dispatcher_is_deployed_every_minute_in_shanghai_time() -> None:
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    [entry] = [d for d in spec["deployments"] if d["name"] == "dispatch-notifications"]
    assert entry["entrypoint"] == "donorflow/deployments.py:dispatch_notifications"
    assert entry["schedules"] == [{"interval": 60, "timezone": "Asia/Shanghai"}]
    assert entry["work_pool"]["name"] == "donorflow-process"
    assert dispatch_notifications.name == "dispatch-notifications"
