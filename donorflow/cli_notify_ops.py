"""`donorflow notify dispatch | status | opt-out`: the outbox's operations from the command line.

Plain functions registered on the `notify` sub-app by `register(app)` (the sub-app and `notify preview`
live in donorflow/cli_notify.py). They reuse the main CLI's session and error handling, imported when a
command runs (donorflow.cli imports this module).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from donorflow import bootstrap
from models.core import transaction
from models.outreach import MEMBER_CHANNELS, outbox_status, set_opt_out

__all__ = ["notify_dispatch", "notify_opt_out", "notify_status", "register"]

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def register(app: typer.Typer) -> None:
    app.command("dispatch")(notify_dispatch)
    app.command("status")(notify_status)
    app.command("opt-out")(notify_opt_out)


def notify_dispatch(
    json_: JsonFlag = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and route; send nothing, change nothing; print counts.")
    ] = False,
) -> None:
    """Send the due messages once (what the one-minute dispatch-notifications deployment does)."""
    from donorflow.cli import _print_json, _session, out

    with _session():  # the schema check and our errors as one line and an exit code
        result = asyncio.run(bootstrap.dispatch_once(dry_run=dry_run))
    counts = result.as_dict()
    if json_:
        _print_json(counts)
        return
    prefix = "试运行 dry run: " if dry_run else ""
    labels = {"sent": "已发送", "retried": "重试", "dead": "失败", "skipped": "跳过", "deferred": "延后"}
    out.print(prefix + " · ".join(f"{labels[key]} {key} {n}" for key, n in counts.items()))


def notify_status(
    json_: JsonFlag = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Dead letters to list, newest first.")] = 50,
) -> None:
    """Outbox rows by kind and status, and the dead letters with the reason each failed."""
    from donorflow.cli import _print_json, _session, out

    with _session() as session:
        status = outbox_status(session=session, dead_limit=limit)
    if json_:
        _print_json(status.as_dict())
        return
    counts = Table("kind", "status", "rows", title="发件箱 Outbox")
    for kind, by_status in sorted(status.counts.items()):
        for name, n in sorted(by_status.items()):
            counts.add_row(kind, name, str(n))
    out.print(counts)
    if not status.dead:
        out.print("没有失败的消息 no dead letters")
        return
    dead = Table(
        "id", "template", "channel", "attempts", "reason", title=f"失败 Dead letters ({status.dead_total})"
    )
    for letter in status.dead:
        row = (letter.template_key, letter.channel or "", str(letter.attempts), letter.reason)
        dead.add_row(str(letter.id), *row)
    out.print(dead)


def notify_opt_out(
    code: Annotated[str, typer.Argument(help="Registry code of the member, e.g. ZZ21-000123.")],
    channel: Annotated[str, typer.Option(help="sms, email or wechat.")],
    undo: Annotated[bool, typer.Option("--undo", help="The member wants this channel again.")] = False,
    actor: Annotated[str, typer.Option(help="Who does this (goes into the audit log).")] = "",
    json_: JsonFlag = False,
) -> None:
    """Record that a member wants no more messages on a channel (audited); `--undo` reverses it."""
    from donorflow.cli import _default_actor, _fail, _print_json, _session, out

    if channel not in MEMBER_CHANNELS:
        _fail(f"渠道无效 unknown channel {channel!r}: one of {', '.join(MEMBER_CHANNELS)}", 2)
    with _session() as session:
        with transaction(session):
            donor = set_opt_out(
                session=session,
                code=code,
                channel=channel,
                opted_out=not undo,
                actor=actor or _default_actor(),
            )
        member = donor.code
    if json_:
        _print_json({"code": member, "channel": channel, "opted_out": not undo})
        return
    what = "已恢复 opted back in to" if undo else "已退订 opted out of"
    out.print(f"{member}: {what} {channel}")
