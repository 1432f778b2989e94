"""Dispatch throughput to a local SMS gateway: the dispatcher with bounded concurrency against the same
dispatcher one message at a time, both measured in this run on the same machine and database.

    .venv/bin/python bench/dispatch.py [--messages 5000] [--concurrency 20] [--database sqlite|postgresql]

The gateway is a minimal HTTP/1.1 keep-alive server in a process of its own (loopback), answering each
POST with `{"id": …}` after `--latency` (a real gateway answers in tens of ms: that is where concurrency
pays). Each message is claimed, routed (one member lookup per batch), rendered,
sent through the real generic SMS channel (httpx), and recorded in its own transaction, as in production.
Rate limits are off (they would measure the setting, not the dispatcher). Target (issue 10): ≥ 500
messages/s with bounded concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.core import make_engine, utcnow
from models.outreach import Outbox
from models.registry import Donor
from notifications import ChannelSet, Renderer
from notifications.channels import SmsGatewayChannel
from notifications.dispatch import DispatchConfig, DispatchResult, dispatch
from tests.databases import empty_all_tables, fresh_database  # noqa: E402

TEMPLATE = "【郑州红十字会】感谢志愿者{{ code }}捐献造血干细胞，我们会按时随访。"


class Gateway:
    """POST → 200 {"id": n}, keep-alive, in a process of its own (a real gateway is another machine: its
    work is not the dispatcher's). `GET /count` answers how many POSTs it took."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.process: multiprocessing.Process | None = None
        self.url = ""

    def __enter__(self) -> Gateway:
        ours, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_gateway_main, args=(theirs, self.latency), daemon=True)
        self.process.start()
        port = ours.recv()
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.join()

    def count(self) -> int:
        with urllib.request.urlopen(f"{self.url}/count", timeout=10) as answer:
            return int(answer.read())


def _gateway_main(pipe: Connection, latency: float) -> None:
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if head.startswith(b"GET /count"):
                    body = b"%d" % requests
                else:
                    requests += 1
                    if latency:
                        await asyncio.sleep(latency)
                    body = b'{"id": "gw-%d"}' % requests
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        pipe.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(run())


def fill(engine: Engine, messages: int) -> None:
    """`messages` due SMS to 1 member in 10 (bulk inserted: the fill is not what is measured)."""
    empty_all_tables(engine)
    members = max(1, messages // 10)
    now = utcnow()
    with Session(engine) as session:
        connection = session.connection()
        connection.execute(
            insert(Donor.__table__),  # type: ignore[attr-defined]
            [
                {
                    "code": f"BB26-{n:06d}",
                    "phone": f"138{n:08d}",
                    "national_id_hash": f"bench-{n}",
                    "national_id_masked": "",
                    "language": "zh-CN",
                    "status": "active",
                    "opt_out_sms": False,
                    "opt_out_email": False,
                    "opt_out_wechat": False,
                    "preferred_channel": "sms",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(1, members + 1)
            ],
        )
        donors = Donor.__table__  # type: ignore[attr-defined]
        ids = list(connection.execute(select(donors.c.id).order_by(donors.c.id)).scalars())
        connection.execute(
            insert(Outbox.__table__),  # type: ignore[attr-defined]
            [
                {
                    "kind": "message",
                    "channel": None,
                    "recipient_ref": f"donor:{ids[n % len(ids)]}",
                    "template_key": "donation_thanks",
                    "language": "zh-CN",
                    "context": {"code": f"BB26-{n % len(ids) + 1:06d}"},
                    "idempotency_key": f"bench:{n}",
                    "urgent": False,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now - timedelta(seconds=1),
                    "created_at": now,
                }
                for n in range(messages)
            ],
        )
        session.commit()


def reset(engine: Engine) -> None:
    table = Outbox.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            update(table).values(
                status="pending", claimed_by=None, claimed_until=None, sent_at=None, rendered=None,
                provider_message_id=None, next_attempt_at=utcnow() - timedelta(seconds=1),
            )
        )  # fmt: skip


async def measure(
    engine: Engine, renderer: Renderer, concurrency: int, messages: int, gateway: Gateway
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to dispatch every message."""
    before = gateway.count()
    channels = ChannelSet(members={"sms": SmsGatewayChannel(f"{gateway.url}/sms")})
    config = DispatchConfig(concurrency=concurrency, quiet_hours=None, max_per_run=messages)
    started, cpu = time.perf_counter(), time.process_time()
    result = await dispatch(
        session_factory=lambda: Session(engine), channels=channels, renderer=renderer, config=config
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await channels.aclose()
    posted = gateway.count() - before
    assert result.sent == messages == posted, (result, posted)
    return elapsed, cpu


def _dispatcher_process(
    url: str, templates: str, gateway_url: str, concurrency: int, go: Any, out: Any
) -> None:
    """One dispatcher in a process of its own (as `prefect.yaml` or a second machine would run it)."""
    engine = make_engine(url)
    renderer = Renderer(overrides=Path(templates))

    async def run() -> DispatchResult:
        channels = ChannelSet(members={"sms": SmsGatewayChannel(f"{gateway_url}/sms")})
        try:
            config = DispatchConfig(concurrency=concurrency, quiet_hours=None)
            return await dispatch(
                session_factory=lambda: Session(engine), channels=channels, renderer=renderer, config=config
            )
        finally:
            await channels.aclose()

    go.wait()
    started = time.perf_counter()
    result = asyncio.run(run())
    out.put((result.sent, time.perf_counter() - started))
    engine.dispose()


def measure_processes(
    url: str, templates: Path, concurrency: int, messages: int, gateway: Gateway, processes: int
) -> float:
    """Wall seconds for `processes` dispatchers at once (disjoint claims) to send every message."""
    before = gateway.count()
    go = multiprocessing.Event()
    out: multiprocessing.Queue[tuple[int, float]] = multiprocessing.Queue()
    children = [
        multiprocessing.Process(
            target=_dispatcher_process, args=(url, str(templates), gateway.url, concurrency, go, out)
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    time.sleep(2)  # imports done in every child before the clock starts
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in children]
    elapsed = time.perf_counter() - started
    for child in children:
        child.join()
    posted = gateway.count() - before
    sent = sum(n for n, _ in results)
    assert sent == messages == posted, (results, posted)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.01, help="gateway answer delay, seconds")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", type=int, default=2, help="dispatchers at once in the last run")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.database, Path(tmp)) as url,
        Gateway(args.latency) as gateway,
    ):
        templates = Path(tmp) / "templates" / "zh-CN"
        templates.mkdir(parents=True)
        (templates / "donation_thanks.sms.j2").write_text(TEMPLATE, encoding="utf-8")
        renderer = Renderer(overrides=templates.parent)
        engine = make_engine(url)
        fill(engine, args.messages)
        runs = {}
        for label, concurrency in (
            (f"concurrency {args.concurrency}", args.concurrency),
            ("one at a time", 1),
        ):
            reset(engine)
            runs[label] = asyncio.run(measure(engine, renderer, concurrency, args.messages, gateway))
        reset(engine)
        engine.dispose()
        many = measure_processes(
            url, templates.parent, args.concurrency, args.messages, gateway, args.processes
        )
    n = args.messages
    print(f"dispatch of {n} messages, {args.database}, gateway latency {args.latency * 1000:.0f} ms")
    for label, (seconds, cpu) in runs.items():
        print(
            f"  {label:>16}: {seconds:6.2f} s  {n / seconds:6.0f} messages/s  "
            f"(CPU {cpu * 1000 / n:.2f} ms a message in the dispatcher)"
        )
    label = f"{args.processes} x concurrency {args.concurrency}"
    print(f"  {label:>16}: {many:6.2f} s  {n / many:6.0f} messages/s  ({args.processes} processes at once)")
    (bounded, _), (serial, _) = runs.values()
    best = min(bounded, many)
    verdict = "met" if n / best >= 500 else "NOT met"
    print(
        f"  speed-up {serial / bounded:.1f}x in one process, {serial / many:.1f}x with {args.processes}; "
        f"target >= 500 messages/s with bounded concurrency: {verdict}"
    )


if __name__ == "__main__":
    main()
