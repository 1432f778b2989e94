"""Issue 10's must-show: a dispatcher killed (SIGKILL) mid-batch, then run again, delivers every message,
and none twice at the gateway except the few in flight at the kill — re-sent with the same key, which a
gateway honouring Idempotency-Key delivers once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session

from models.core import transaction
from models.outreach import enqueue
from tests.factories import add_donor
from tests.integration.notifications.dispatch_support import CountingGateway, rows, write_templates

DONORFLOW = str(Path(sys.executable).with_name("donorflow"))
MESSAGES = 40
CONCURRENCY = 4
LEASE_SECONDS = 2


def _wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_dispatcher_killed_mid_batch_resends_only_what_was_in_flight_with_the_same_keys(
    session: Session, database_url: str, tmp_path: Path
) -> None:
    donor = add_donor(session)
    with transaction(session):
        for n in range(MESSAGES):
            enqueue(
                session=session,
                donor=donor,
                template_key="donation_thanks",
                context={"code": donor.code},
                key=f"kill:{n}",
                channel="sms",
            )
    with CountingGateway(delay=0.15) as gateway:
        env = {
            **os.environ,
            "DONORFLOW_DATABASE_URL": database_url,
            "DONORFLOW_VAR_DIR": str(tmp_path / "var"),
            "DONORFLOW_SMS_URL": gateway.url,
            "DONORFLOW_TEMPLATES_DIR": str(write_templates(tmp_path / "templates")),
            "DONORFLOW_QUIET_HOURS": "",  # the test must not depend on the hour it runs at
            "DONORFLOW_DISPATCH_CONCURRENCY": str(CONCURRENCY),
            "DONORFLOW_DISPATCH_BATCH_SIZE": "10",
            "DONORFLOW_DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS),
            "DONORFLOW_RATE_SMS_PER_SECOND": "0",
        }
        command = [DONORFLOW, "notify", "dispatch", "--json"]
        victim = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_for(lambda: gateway.requests >= MESSAGES // 3 or victim.poll() is not None, timeout=60)
        finally:
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL, "the dispatcher ended before it could be killed"
        time.sleep(LEASE_SECONDS + 0.2)  # the dead dispatcher's claims lapse (its last requests land)
        arrived = set(gateway.counts)
        recorded = {row.idempotency_key for row in rows(session) if row.status == "sent"}
        assert len(arrived) < MESSAGES and recorded <= arrived
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        counts = json.loads(done.stdout)

    keys = {f"kill:{n}" for n in range(MESSAGES)}
    assert set(gateway.counts) == keys  # every message arrived, and only under its own key
    assert {row.idempotency_key: row.status for row in rows(session)} == dict.fromkeys(keys, "sent")
    assert counts["sent"] == MESSAGES - len(recorded)
    # Twice: exactly the messages in flight at the kill (at the gateway, not yet recorded as sent): the
    # concurrent sends, and answers waiting the few milliseconds that batch their recording (fewer than
    # CONCURRENCY), each re-sent once and under its own key.
    resent = {key for key, n in gateway.counts.items() if n > 1}
    assert resent == arrived - recorded
    assert len(resent) < 2 * CONCURRENCY
    assert all(gateway.counts[key] == 2 for key in resent)
