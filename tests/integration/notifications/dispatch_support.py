"""What the dispatcher tests share: templates of their own (an override folder, so no catalogue wording is
pinned here), a generic SMS gateway on loopback that records each request's Idempotency-Key, and a run
of the dispatcher with fresh channels (an httpx client belongs to one event loop)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from werkzeug import Request, Response

from models.core import SHANGHAI, local_date, utcnow
from models.outreach import Outbox
from notifications import AlertTarget, Channel, ChannelSet, Renderer
from notifications.channels import MemoryChannel, SmsGatewayChannel
from notifications.dispatch import DispatchConfig, DispatchResult, dispatch

TEMPLATES = {
    "remobilisation_contact.sms.j2": "【测试】志愿者{{ code }}：配型相合请回电（第{{ attempt }}次）。",
    "donation_thanks.sms.j2": "【测试】感谢志愿者{{ code }}捐献造血干细胞。",
    "registration_welcome.sms.j2": "【测试】欢迎志愿者{{ code }}加入中华骨髓库。",
    "registration_welcome.email.j2": (
        "{% block subject %}欢迎 {{ code }}{% endblock %}{% block text %}欢迎志愿者{{ code }}。{% endblock %}"
        "{% block html %}<p>欢迎志愿者{{ code }}。</p>{% endblock %}"
    ),
    "withdrawal_confirmation.sms.j2": "【测试】志愿者{{ code }}：您已退出，个人信息已删除。",
    "alert_dead_letter.email.j2": (
        "{% block subject %}消息{{ message_id }}发送失败{% endblock %}"
        "{% block text %}{{ template_key }} via {{ channel }}: {{ reason }}{% endblock %}"
        "{% block html %}<p>{{ template_key }}: {{ reason }}</p>{% endblock %}"
    ),
    "alert_dead_letter.webhook.j2": "**消息{{ message_id }}发送失败** {{ template_key }}: {{ reason }}",
    "alert_balance.email.j2": (
        "{% block subject %}{{ channel }} 余额不足{% endblock %}{% block text %}{{ provider }}{% endblock %}"
    ),
    "alert_balance.webhook.j2": "**{{ channel }} 余额不足** {{ provider }}",
    "high_res_result.email.j2": (
        "{% block subject %}高分辨 {{ case_id }}{% endblock %}{% block text %}{{ result }}{% endblock %}"
    ),
    "high_res_result.webhook.j2": "高分辨结果 {{ case_id }}: {{ result }}",
}


def write_templates(folder: Path) -> Path:
    for name, source in TEMPLATES.items():
        for language in ("zh-CN", "en"):
            path = folder / language / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
    return folder


def daytime(days: int = 1, hour: int = 10) -> datetime:
    """A moment after every row a test enqueues now, at a given hour in Shanghai (quiet hours decide)."""
    day = local_date(utcnow()) + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)


@dataclass
class Gateway:
    """A generic SMS gateway: answers the queued statuses in turn, then 200 with an id."""

    server: HTTPServer
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.expect_request("/sms", method="POST").respond_with_handler(self.answer)

    @property
    def url(self) -> str:
        return self.server.url_for("/sms")

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.received]

    def answer(self, request: Request) -> Response:
        with self.lock:
            self.received.append((request.headers.get("Idempotency-Key", ""), request.get_json()))
            status = self.statuses.pop(0) if self.statuses else 200
            body = {"id": f"gw-{len(self.received)}"} if status < 300 else {"error": "try later"}
        return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass
class Alerts:
    email: MemoryChannel = field(default_factory=lambda: MemoryChannel("email"))
    bot: MemoryChannel = field(default_factory=lambda: MemoryChannel("webhook"))

    def targets(self) -> list[AlertTarget]:
        return [
            AlertTarget("email", self.email, "coordinator@example.org", "email-1"),
            AlertTarget("webhook", self.bot, "group-bot", "group-bot"),
        ]


@dataclass
class Dispatcher:
    engine: Engine
    gateway: Gateway
    renderer: Renderer
    alerts: Alerts = field(default_factory=Alerts)
    email: MemoryChannel = field(default_factory=lambda: MemoryChannel("email"))
    config: DispatchConfig = field(default_factory=lambda: DispatchConfig(worker="test-worker"))
    extra: dict[str, Channel] = field(default_factory=dict)

    def __call__(
        self, *, now: datetime | None = None, dry_run: bool = False, **config: Any
    ) -> DispatchResult:
        settings = DispatchConfig(**{**self.config.__dict__, **config})

        async def run() -> DispatchResult:
            channels = ChannelSet(
                members={"sms": SmsGatewayChannel(self.gateway.url), "email": self.email, **self.extra},
                alerts=self.alerts.targets(),
            )
            try:
                return await dispatch(
                    session_factory=lambda: Session(self.engine),
                    channels=channels,
                    renderer=self.renderer,
                    config=settings,
                    now=now or daytime(),
                    dry_run=dry_run,
                )
            finally:
                await channels.aclose()

        return asyncio.run(run())


def rows(session: Session) -> list[Outbox]:
    session.expire_all()
    return list(session.exec(select(Outbox).order_by(col(Outbox.id))))


def row_by_key(session: Session, key: str) -> Outbox:
    session.expire_all()
    return session.exec(select(Outbox).where(Outbox.idempotency_key == key)).one()


class CountingGateway:
    """A generic SMS gateway in a thread of the test process, many requests at once (a dispatcher in
    another process may be killed mid-request): counts the requests per Idempotency-Key, answers 200
    after `delay` seconds. The count is what a gateway honouring the key would deliver at most once."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                with gateway.lock:
                    gateway.counts[self.headers.get("Idempotency-Key", "")] += 1
                    n = sum(gateway.counts.values())
                if gateway.delay:
                    time.sleep(gateway.delay)
                body = json.dumps({"id": f"gw-{n}"}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the dispatcher was killed while we slept: nobody reads the answer
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/sms"

    @property
    def requests(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    def __enter__(self) -> CountingGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
