"""The dispatcher (DESIGN.md §5, issue 10 item 3): claim due outbox messages, apply the policies,
render, send with bounded concurrency and a rate limit per channel, record each result.

Each step owns a short transaction: the claim (committed before anything is sent), then one per result.
A dispatcher killed mid-batch loses at most the messages in flight; their claims lapse after the lease
and a successor sends them again with the same idempotency key, which the gateway uses to deliver once.
No Prefect here: the flow (flows/notify.py) and the CLI call `dispatch` through the composition root.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from models.core import (
    BalanceExhaustedError,
    DonorflowError,
    PermanentDeliveryError,
    Session,
    SessionFactory,
    TransientDeliveryError,
    mask_text,
    unit_of_work,
    utcnow,
)
from models.outreach import (
    COORDINATORS,
    Dead,
    Deliver,
    Outbox,
    QuietHours,
    Recipient,
    Route,
    Skip,
    claim_due,
    defer,
    donor_id_of,
    enqueue_balance_alert,
    fan_out_alerts,
    is_alert,
    mark_dead,
    mark_retry,
    mark_sent_many,
    mark_skipped,
    mask_address,
    quiet_until,
    recipients,
    retry_delay,
    route_member,
)
from notifications.channels.memory import MemoryChannel
from notifications.message import AlertTarget, Channel, ChannelSet, OutgoingMessage, Receipt
from notifications.ratelimit import TokenBucket
from notifications.render import Rendered, Renderer

__all__ = ["DispatchConfig", "DispatchResult", "default_worker", "dispatch"]

log = logging.getLogger("donorflow.notifications.dispatch")

# A send is not started with less than this left of the claim's lease: a successor may take it over then.
_LEASE_MARGIN = 0.2
# How long a delivery waits for others to be recorded in the same transaction.
_RECORD_WINDOW = 0.005


def default_worker() -> str:
    """host:pid:random — unique per dispatcher run, readable in `claimed_by`."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class DispatchConfig:
    """What the dispatcher takes from settings (built in the composition root, donorflow/bootstrap.py)."""

    worker: str = field(default_factory=default_worker)
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=120)
    concurrency: int = 20
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    quiet_hours: QuietHours | None = QuietHours(time(21, 0), time(8, 0))  # DESIGN.md §5
    rates: Mapping[str, float] = field(default_factory=dict)  # channel → sends a second; absent: no limit
    max_per_run: int = 10_000


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Job:
    """A claimed row as plain values: the claim's session is closed before anything is sent."""

    id: int
    key: str
    template_key: str
    language: str
    context: dict[str, Any]
    channel: str | None
    recipient_ref: str
    urgent: bool
    attempts: int
    address_snapshot: str | None

    @classmethod
    def of(cls, row: Outbox) -> _Job:
        assert row.id is not None
        return cls(
            row.id,
            row.idempotency_key,
            row.template_key,
            row.language,
            dict(row.context),
            row.channel,
            row.recipient_ref,
            row.urgent,
            row.attempts,
            row.address_snapshot,
        )


@dataclass(frozen=True)
class _Send:
    job: _Job
    sender: Channel
    message: OutgoingMessage
    rendered: Rendered
    deadline: float  # loop time after which the claim may belong to a successor

    @property
    def shown(self) -> str:
        """The recipient as a log line may show it."""
        return mask_address(self.message.channel, self.message.to)


Unit = Callable[[], AbstractContextManager[Session]]


async def dispatch(
    *,
    session_factory: SessionFactory,
    channels: ChannelSet,
    renderer: Renderer,
    config: DispatchConfig,
    now: datetime | None = None,
    dry_run: bool = False,
) -> DispatchResult:
    """Send every due message (up to `config.max_per_run`), batch by batch; return what became of them.

    `now` fixes the clock (tests); `dry_run` renders and routes everything, "sends" to in-memory
    channels and rolls every change back: the counts say what a real run would do now.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    if dry_run:
        channels = _in_memory(channels)
    with _units(session_factory, dry_run=dry_run) as unit:
        run = _Run(channels, renderer, config, clock, unit)
        claimed = 0
        while claimed < config.max_per_run:
            taken, sends = run.claim(min(config.batch_size, config.max_per_run - claimed))
            if not taken:
                break
            claimed += taken
            await asyncio.gather(*(run.send(item) for item in sends))
    return run.result


@contextmanager
def _units(session_factory: SessionFactory, *, dry_run: bool) -> Iterator[Unit]:
    """One transaction per step; in a dry run one session for everything, rolled back at the end."""
    if not dry_run:
        yield lambda: unit_of_work(session_factory)
        return
    with session_factory() as session:

        @contextmanager
        def shared() -> Iterator[Session]:
            yield session

        try:
            yield shared
        finally:
            session.rollback()


def _in_memory(channels: ChannelSet) -> ChannelSet:
    memory = MemoryChannel("dry-run")
    return ChannelSet(
        members=dict.fromkeys(channels.members, memory),
        alerts=[AlertTarget(t.channel, memory, t.to, t.name) for t in channels.alerts],
    )


class _Run:
    def __init__(
        self,
        channels: ChannelSet,
        renderer: Renderer,
        config: DispatchConfig,
        clock: Callable[[], datetime],
        unit: Unit,
    ) -> None:
        self.channels, self.renderer, self.config = channels, renderer, config
        self.clock, self.unit = clock, unit
        self.targets = {target.name: target for target in channels.alerts}
        self.semaphore = asyncio.Semaphore(config.concurrency)
        self.buckets = {name: TokenBucket(rate) for name, rate in config.rates.items() if rate > 0}
        self.result = DispatchResult()
        self.answered: list[tuple[_Job, str, dict[str, Any]]] = []  # sent, not yet recorded

    # -- claim and decide -----------------------------------------------------------------------------
    def claim(self, limit: int) -> tuple[int, list[_Send]]:
        """Claim a batch (committed), settle what needs no sending, and return what does."""
        now, config = self.clock(), self.config
        with self.unit() as session:
            rows = claim_due(session=session, worker=config.worker, now=now, limit=limit, lease=config.lease)
            if not rows:
                return 0, []
            pairs = [(target.name, target.channel) for target in self.channels.alerts]
            fanned = fan_out_alerts(session=session, rows=rows, targets=pairs, worker=config.worker, now=now)
            jobs = [_Job.of(row) for row in rows if row.id not in fanned]
            donor_ids = {donor_id_of(job.recipient_ref) for job in jobs}
            found = recipients(session=session, donor_ids=[i for i in donor_ids if i is not None])
        # A fanned-out alert is not a delivery (its copies are); one with no target to go to is dead.
        self.result.dead += sum(1 for outcome in fanned.values() if outcome == "dead")
        deadline = asyncio.get_running_loop().time() + config.lease.total_seconds() * (1 - _LEASE_MARGIN)
        sends = []
        for job in jobs:
            item = self._prepare(job, found, now, deadline)
            if item is not None:
                sends.append(item)
        return len(rows), sends

    def _prepare(
        self, job: _Job, found: Mapping[int, Recipient], now: datetime, deadline: float
    ) -> _Send | None:
        route, sender = self._route(job, found)
        if isinstance(route, Skip):
            self._record(job, "skipped", mark_skipped, reason=route.reason)
            return None
        if isinstance(route, Dead):
            self._record(job, "dead", mark_dead, reason=route.reason)
            return None
        assert sender is not None
        # Quiet hours hold messages to members (DESIGN.md §5), not urgent ones nor the coordinators' alerts.
        held = not job.urgent and not is_alert(job.recipient_ref)
        until = quiet_until(now, self.config.quiet_hours) if held else None
        if until is not None:
            self._record(job, "deferred", defer, until=until)
            return None
        try:
            rendered = self.renderer.render(job.template_key, route.channel, job.language, job.context)
        except DonorflowError as exc:  # a missing template or field will not render next time either
            self._record(job, "dead", mark_dead, reason=f"render failed: {exc}")
            return None
        except Exception as exc:  # a broken template (a syntax error) is as permanent
            self._record(job, "dead", mark_dead, reason=f"render failed: {type(exc).__name__}: {exc}")
            return None
        message = OutgoingMessage(
            idempotency_key=job.key,
            channel=route.channel,
            to=route.address,
            template_key=job.template_key,
            language=job.language,
            text=rendered.text,
            subject=rendered.subject,
            html=rendered.html,
            params={name: str(value) for name, value in job.context.items()},
            urgent=job.urgent,
        )
        return _Send(job, sender, message, rendered, deadline)

    def _route(self, job: _Job, found: Mapping[int, Recipient]) -> tuple[Route, Channel | None]:
        if is_alert(job.recipient_ref):
            target = self.targets.get(job.recipient_ref.removeprefix(f"{COORDINATORS}:"))
            if target is None:  # the target was configured when the alert fanned out, and is gone
                return Dead("no channel"), None
            return Deliver(target.channel, target.to), target.sender
        donor_id = donor_id_of(job.recipient_ref)
        if donor_id is None:
            return Dead(f"unknown recipient {job.recipient_ref[:32]}"), None
        route = route_member(
            template_key=job.template_key,
            channel=job.channel,
            address_snapshot=job.address_snapshot,
            recipient=found.get(donor_id),
            configured=self.channels.members.keys(),
        )
        sender = self.channels.members.get(route.channel) if isinstance(route, Deliver) else None
        return route, sender

    # -- send and record ------------------------------------------------------------------------------
    async def send(self, item: _Send) -> None:
        job, message = item.job, item.message
        bucket = self.buckets.get(message.channel)
        if bucket is not None and not self._lapsing(item):
            await bucket.acquire()
        async with self.semaphore:
            if self._lapsing(item):
                log.warning("outbox %s: claim about to lapse, left for the next run", job.id)
                return
            try:
                receipt: Receipt | None = await item.sender.send(message)
            except BalanceExhaustedError as exc:
                receipt = None
                self._balance_exhausted(item, exc)
            except TransientDeliveryError as exc:
                receipt = None
                self._failed(item, str(exc))
            except PermanentDeliveryError as exc:
                receipt = None
                reason = mask_text(str(exc))
                self._record(job, "dead", mark_dead, shown=item.shown, reason=reason, attempted=True)
            except Exception as exc:  # a bug in a channel must not stop the batch: retried
                receipt = None
                log.error("outbox %s: %s raised %s", job.id, message.channel, type(exc).__name__)
                self._failed(item, f"{type(exc).__name__} in channel {message.channel}")
        if receipt is not None:  # recorded after the slot is free: the next send need not wait for it
            await self._sent(item, receipt)

    @staticmethod
    def _lapsing(item: _Send) -> bool:
        """Whether the claim may soon belong to a successor (a slow rate limit, a long queue): then this
        run does not send, and the successor sends once, instead of both."""
        return asyncio.get_running_loop().time() > item.deadline

    async def _sent(self, item: _Send, receipt: Receipt) -> None:
        """Record a delivery together with the others answered within `_RECORD_WINDOW`: one transaction
        for all of them (a commit per message cost a quarter of the dispatcher's time). What a killed
        dispatcher sent and did not record is then at most the messages in flight and those answered
        in its last few milliseconds (never more than twice `concurrency`): re-sent by a successor with
        the same idempotency key."""
        rendered, message = item.rendered, item.message
        copy = f"{rendered.subject}\n\n{rendered.text}" if rendered.subject else rendered.text
        values = {
            "provider_message_id": receipt.provider_message_id,
            "channel": message.channel,
            "rendered": copy,
            "now": self.clock(),
        }
        self.answered.append((item.job, item.shown, values))
        if len(self.answered) < self.config.concurrency:
            await asyncio.sleep(_RECORD_WINDOW)  # the sends answered meanwhile join this transaction
        batch, self.answered = self.answered, []
        if not batch:
            return  # an earlier send of the same moment recorded this one
        sent = [{"row_id": job.id, **values} for job, _shown, values in batch]
        done = self._write_sent(sent)
        for job, shown, values in batch:
            self._count(job, "sent", job.id in done, shown, values)

    def _failed(self, item: _Send, error: str) -> None:
        job, error = item.job, mask_text(error)
        attempts = job.attempts + 1
        if attempts >= self.config.max_attempts:
            reason = f"too many attempts: {error}"
            self._record(job, "dead", mark_dead, shown=item.shown, reason=reason, attempted=True)
            return
        delay = retry_delay(attempts, base=self.config.retry_base_seconds, cap=self.config.retry_cap_seconds)
        next_at = self.clock() + delay
        self._record(job, "retried", mark_retry, shown=item.shown, error=error, next_attempt_at=next_at)

    def _write_sent(self, sent: list[dict[str, Any]]) -> set[int]:
        with self.unit() as session:
            return mark_sent_many(session=session, worker=self.config.worker, sent=sent)

    def _balance_exhausted(self, item: _Send, exc: BalanceExhaustedError) -> None:
        """The provider's account is empty: the operator hears once a day per channel, the message waits
        (no attempt counted: topping up the account makes it deliverable, however long that takes)."""
        job, channel = item.job, item.message.channel
        wait = timedelta(seconds=self.config.retry_cap_seconds)
        with self.unit() as session:
            if mark_retry(
                session=session,
                row_id=job.id,
                worker=self.config.worker,
                error=mask_text(str(exc)),
                next_attempt_at=self.clock() + wait,
                count_attempt=False,
            ):
                self.result.retried += 1
                if not is_alert(job.recipient_ref):
                    provider = str(getattr(item.sender, "provider", "") or type(item.sender).__name__)
                    now = self.clock()
                    enqueue_balance_alert(session=session, channel=channel, provider=provider, now=now)
        log.warning("outbox %s: %s balance exhausted, waiting %s", job.id, channel, wait)

    def _record(
        self, job: _Job, outcome: str, recorder: Callable[..., bool], *, shown: str = "", **values: Any
    ) -> None:
        """One result in its own transaction; counted only if the claim was still ours. The log line
        names the row, its template, the channel and the recipient masked (`shown`), never more."""
        with self.unit() as session:
            done = recorder(session=session, row_id=job.id, worker=self.config.worker, **values)
        self._count(job, outcome, done, shown, values)

    def _count(self, job: _Job, outcome: str, done: bool, shown: str, values: Mapping[str, Any]) -> None:
        if not done:
            log.warning("outbox %s: claim lost to another dispatcher; its result is theirs", job.id)
            return
        setattr(self.result, outcome, getattr(self.result, outcome) + 1)
        channel = values.get("channel") or job.channel or "-"
        detail = values.get("reason") or values.get("error")
        line = " ".join(part for part in (job.template_key, "via", channel, shown) if part)
        log.info("outbox %s %s: %s%s", job.id, outcome, line, f" ({detail})" if detail else "")
