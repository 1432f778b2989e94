"""`donorflow notify …`: a minimal stand-in on the dispatcher's branch; the templates branch's module
(with `notify preview`) replaces it at merge and keeps the `register(notify_app)` line."""

from __future__ import annotations

import typer

from donorflow.cli_notify_ops import register

__all__ = ["notify_app"]

notify_app = typer.Typer(help="通知 notifications: send, status, opt-outs.", no_args_is_help=True)
register(notify_app)
