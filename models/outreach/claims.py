"""Claiming due messages and recording what became of them (DESIGN.md §5): SQL only, in the caller's
transaction, no I/O.

A dispatcher claims a batch (status `sending`, `claimed_by` itself, a lease until `claimed_until`) and
commits; it sends outside any transaction and records each result in its own. Every recorder is
conditional on the row still being this worker's claim: a dispatcher that died holding rows loses them
to a successor after the lease, and if it was only slow its late result does not overwrite the
successor's. A row re-sent that way carries the same idempotency key, so a gateway that honours the key
delivers it once (issue 10 item 3).

Only kind "message" rows: the pipeline's events (kind "event") have their own relay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Update, and_, bindparam, column, or_, select, update
from sqlalchemy import values as sql_values
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from models.core import local_date
from models.outreach.outbox import COORDINATORS, KIND_MESSAGE, Outbox, _add_once, enqueue_alert
from models.outreach.policy import MEMBER_CHANNELS, Recipient
from models.registry import Donor

__all__ = [
    "DONOR_PREFIX",
    "claim_due",
    "defer",
    "donor_id_of",
    "enqueue_balance_alert",
    "fan_out_alerts",
    "is_alert",
    "mark_dead",
    "mark_retry",
    "mark_sent",
    "mark_sent_many",
    "mark_skipped",
    "recipients",
]

DONOR_PREFIX = "donor:"
_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
_REASON_MAX = 500


def is_alert(recipient_ref: str) -> bool:
    """A coordinator alert: the parent row ("coordinators") or one target's copy ("coordinators:<name>")."""
    return recipient_ref == COORDINATORS or recipient_ref.startswith(f"{COORDINATORS}:")


def donor_id_of(recipient_ref: str) -> int | None:
    if not recipient_ref.startswith(DONOR_PREFIX):
        return None
    try:
        return int(recipient_ref.removeprefix(DONOR_PREFIX))
    except ValueError:
        return None


def claim_due(*, session: Session, worker: str, now: datetime, limit: int, lease: timedelta) -> list[Outbox]:
    """Claim up to `limit` due messages, oldest first: pending ones whose time has come, and ones another
    dispatcher claimed and did not finish within its lease (it died). They become `sending`, this
    worker's, until `now + lease`.

    PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take disjoint batches
    without waiting for each other. SQLite: one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`,
    atomic because SQLite runs one writer at a time.
    """
    t = _OUTBOX
    due = and_(
        t.c.kind == KIND_MESSAGE,
        or_(
            and_(t.c.status == "pending", t.c.next_attempt_at <= now),
            and_(t.c.status == "sending", t.c.claimed_until < now),
        ),
    )
    oldest = select(t.c.id).where(due).order_by(t.c.next_attempt_at, t.c.id).limit(limit)
    claim = update(t).values(status="sending", claimed_by=worker, claimed_until=now + lease)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = list(connection.execute(oldest.with_for_update(skip_locked=True)).scalars())
        if ids:
            connection.execute(claim.where(t.c.id.in_(ids)))
    else:
        ids = list(connection.execute(claim.where(t.c.id.in_(oldest)).returning(t.c.id)).scalars())
    if not ids:
        return []
    rows = session.exec(
        sql_select(Outbox)
        .where(col(Outbox.id).in_(ids))
        .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
        .execution_options(populate_existing=True)
    )
    return list(rows)


def fan_out_alerts(
    *,
    session: Session,
    rows: Iterable[Outbox],
    targets: Sequence[tuple[str, str]],
    worker: str,
    now: datetime,
) -> dict[int, str]:
    """Turn each claimed coordinator alert into one copy per alert target, in the claim's transaction.

    `targets` are (name, channel) pairs, e.g. ("email-1", "email"), ("group-bot", "webhook"). A copy's
    key is f"{key}:{name}" (stored once), its recipient "coordinators:<name>"; the alert itself is
    marked sent. Each target then gets the alert through its own row: a retry to one target never
    re-sends to the others, and an alert dispatched twice reaches each target once. With no target
    configured the alert is dead ("no channel"); a dead alert raises no further alert.
    Returns what became of each alert handled here, by id: "sent" (fanned out) or "dead".
    """
    handled: dict[int, str] = {}
    for row in rows:
        if row.recipient_ref != COORDINATORS or row.id is None:
            continue
        if not targets:
            mark_dead(session=session, row_id=row.id, worker=worker, reason="no channel")
            handled[row.id] = "dead"
            continue
        for name, channel in targets:
            _add_once(
                session,
                Outbox(
                    channel=channel,
                    recipient_ref=f"{COORDINATORS}:{name}",
                    template_key=row.template_key,
                    language=row.language,
                    context=dict(row.context),
                    idempotency_key=f"{row.idempotency_key}:{name}",
                    urgent=row.urgent,
                    next_attempt_at=now,
                ),
            )
        _finish(session, row.id, worker, status="sent", sent_at=now, last_error=None)
        handled[row.id] = "sent"
    session.flush()
    return handled


# -- results ----------------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _conditional_update(names: tuple[str, ...], count_attempt: bool) -> Update:
    """The compare-and-set UPDATE for these columns, built once (one result a message is the hot path)."""
    t = _OUTBOX
    values: dict[str, Any] = {name: bindparam(f"v_{name}", type_=t.c[name].type) for name in names}
    if count_attempt:
        values["attempts"] = t.c.attempts + 1
    mine = and_(t.c.id == bindparam("w_id"), t.c.claimed_by == bindparam("w_worker"), t.c.status == "sending")
    return update(t).where(mine).values(values)


def _finish(
    session: Session, row_id: int, worker: str, *, count_attempt: bool = False, **values: Any
) -> bool:
    """Write `values` to the row if it is still this worker's claim; True if it was."""
    statement = _conditional_update(tuple(sorted(values)), count_attempt)
    result: CursorResult[Any] = session.connection().execute(statement, _params(row_id, worker, values))
    return result.rowcount == 1


def _params(row_id: int, worker: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The bound values of `_conditional_update`: the new values, and the claim they depend on."""
    return {f"v_{name}": value for name, value in values.items()} | {"w_id": row_id, "w_worker": worker}


def _sent_values(
    provider_message_id: str | None, channel: str, rendered: str, now: datetime
) -> dict[str, Any]:
    """What a sent row keeps: the provider's id, the channel used, the text as rendered (the audit copy)."""
    return {
        "status": "sent",
        "provider_message_id": _provider_id(provider_message_id),
        "channel": channel,
        "rendered": rendered,
        "sent_at": now,
        "last_error": None,
        "address_snapshot": None,
    }


def mark_sent(
    *,
    session: Session,
    row_id: int,
    worker: str,
    provider_message_id: str | None,
    channel: str,
    rendered: str,
    now: datetime,
) -> bool:
    """Sent: the provider's id, the channel used and the text as rendered (the audit copy) are kept."""
    return _finish(session, row_id, worker, **_sent_values(provider_message_id, channel, rendered, now))


def mark_sent_many(*, session: Session, worker: str, sent: Sequence[Mapping[str, Any]]) -> set[int]:
    """`mark_sent` for a batch in one statement; returns the ids written (a row whose claim passed to
    another dispatcher meanwhile is not). Each item has `row_id`, `provider_message_id`, `channel`,
    `rendered`, `now`.

    PostgreSQL: one `UPDATE … FROM (VALUES …) RETURNING id` (one round trip to the server). SQLite
    (in-process, no round trip; its VALUES cannot name columns): the UPDATE per row as an executemany,
    then one query for which rows it wrote (only this run writes `sent` under its own claim: a worker's
    name is unique per run)."""
    if not sent:
        return set()
    t = _OUTBOX
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = sql_values(
            column("id", t.c.id.type),
            column("provider_message_id", t.c.provider_message_id.type),
            column("channel", t.c.channel.type),
            column("rendered", t.c.rendered.type),
            column("sent_at", t.c.sent_at.type),
            name="answered",
        ).data(
            [
                (item["row_id"], _provider_id(item["provider_message_id"]), item["channel"], item["rendered"],
                 item["now"])
                for item in sent
            ]
        )  # fmt: skip
        statement = (
            update(t)
            .where(t.c.id == rows.c.id, t.c.claimed_by == worker, t.c.status == "sending")
            .values(
                status="sent",
                provider_message_id=rows.c.provider_message_id,
                channel=rows.c.channel,
                rendered=rows.c.rendered,
                sent_at=rows.c.sent_at,
                last_error=None,
                address_snapshot=None,
            )
            .returning(t.c.id)
        )
        return set(connection.execute(statement).scalars())
    answered = [
        (item["row_id"], _sent_values(item["provider_message_id"], item["channel"], item["rendered"],
                                      item["now"]))
        for item in sent
    ]  # fmt: skip
    each = _conditional_update(tuple(sorted(answered[0][1])), False)  # mark_sent's statement
    connection.execute(each, [_params(row_id, worker, values) for row_id, values in answered])
    mine = select(t.c.id).where(
        t.c.id.in_([item["row_id"] for item in sent]), t.c.claimed_by == worker, t.c.status == "sent"
    )
    return set(connection.execute(mine).scalars())


def _provider_id(value: str | None) -> str | None:
    return (value or None) and value[:128]


def mark_retry(
    *,
    session: Session,
    row_id: int,
    worker: str,
    error: str,
    next_attempt_at: datetime,
    count_attempt: bool = True,
) -> bool:
    """A transient failure: due again at `next_attempt_at`, one more attempt counted (unless the wait is
    not the message's fault, e.g. the provider's balance is exhausted)."""
    return _finish(
        session,
        row_id,
        worker,
        count_attempt=count_attempt,
        status="pending",
        next_attempt_at=next_attempt_at,
        last_error=error[:_REASON_MAX],
        claimed_by=None,
        claimed_until=None,
    )


def mark_dead(*, session: Session, row_id: int, worker: str, reason: str, attempted: bool = False) -> bool:
    """Failed for good (`last_error` says why); `attempted` counts the send that failed.

    A dead message to a member is a dead letter the coordinators hear about: `alert_dead_letter` is
    queued in the same transaction (key "alert:dead:<id>", once). An alert that dies alerts no one, or
    a broken alert channel would feed itself.
    """
    t = _OUTBOX
    values = {"status": "dead", "last_error": reason[:_REASON_MAX], "address_snapshot": None}
    if not _finish(session, row_id, worker, count_attempt=attempted, **values):
        return False
    found = session.connection().execute(
        select(t.c.recipient_ref, t.c.template_key, t.c.channel).where(t.c.id == row_id)
    )
    recipient_ref, template_key, channel = found.one()
    if not is_alert(recipient_ref):
        enqueue_alert(
            session=session,
            template_key="alert_dead_letter",
            context={
                "message_id": row_id,
                "template_key": template_key,
                "channel": channel or "",
                "reason": reason[:200],
            },
            key=f"alert:dead:{row_id}",
        )
        session.flush()
    return True


def mark_skipped(*, session: Session, row_id: int, worker: str, reason: str) -> bool:
    """Not sent on purpose (an opt-out, withdrawn consent): logged as skipped, not failed."""
    return _finish(
        session, row_id, worker, status="skipped", last_error=reason[:_REASON_MAX], address_snapshot=None
    )


def defer(*, session: Session, row_id: int, worker: str, until: datetime) -> bool:
    """Due again at `until` (the end of quiet hours); no attempt counted: nothing was tried."""
    return _finish(
        session, row_id, worker, status="pending", next_attempt_at=until, claimed_by=None, claimed_until=None
    )


def enqueue_balance_alert(*, session: Session, channel: str, provider: str, now: datetime) -> None:
    """`alert_balance` for a channel whose provider has no balance left: once per channel and day
    (Asia/Shanghai), however many messages meet the empty account meanwhile, whichever dispatcher does.

    The key is shared by many rows, so two dispatchers may queue it at once: on PostgreSQL the second
    insert fails its unique key inside a savepoint and is dropped (the first one's alert stands). On
    SQLite the caller's transaction already holds the write lock (it recorded the retry first), so the
    look-up and the insert cannot interleave with another writer's.
    """

    def add() -> None:
        enqueue_alert(
            session=session,
            template_key="alert_balance",
            context={"channel": channel, "provider": provider},
            key=f"alert:balance:{channel}:{local_date(now).isoformat()}",
        )
        session.flush()

    if session.connection().dialect.name != "postgresql":
        add()
        return
    try:
        with session.begin_nested():
            add()
    except IntegrityError:
        pass


# -- who a message goes to -----------------------------------------------------------------------------
def recipients(*, session: Session, donor_ids: Iterable[int]) -> dict[int, Recipient]:
    """The members' contact details and choices, in one query for a batch."""
    wanted = sorted(set(donor_ids))
    if not wanted:
        return {}
    donors = session.exec(sql_select(Donor).where(col(Donor.id).in_(wanted))).all()
    found: dict[int, Recipient] = {}
    for donor in donors:
        assert donor.id is not None
        refused = {"sms": donor.opt_out_sms, "email": donor.opt_out_email, "wechat": donor.opt_out_wechat}
        found[donor.id] = Recipient(
            donor_id=donor.id,
            code=donor.code,
            phone=donor.phone,
            email=donor.email,
            wechat_openid=donor.wechat_openid,
            preferred_channel=donor.preferred_channel,
            opted_out=frozenset(c for c in MEMBER_CHANNELS if refused[c]),
            withdrawn=donor.status == "withdrawn" or donor.withdrawn_at is not None,
            deceased=donor.status == "deceased",
        )
    return found
