"""The local file channel: what `make up` uses with no channel configured, so a demo shows the real
messages. Each message becomes `<outbox>/<YYYY-MM-DD>/<safe idempotency key>.<channel>.txt` (the day in
Asia/Shanghai), the recipient masked; the same key written again overwrites its file (idempotent)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from models.core import local_date, mask_email, mask_phone, mask_text
from models.core.errors import TransientDeliveryError
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["FileChannel", "mask_recipient", "safe_file_stem"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_STEM = 100


def mask_recipient(channel: str, to: str) -> str:
    """The recipient as a log line or a file may show it: 138****1234, z***@example.cn, oAbC***.

    A bot or partner name ("group-bot"), or the demo's alert target "coordinators" (an e-mail channel
    with no address), is not personal and stays as it is (ID and phone patterns masked all the same).
    """
    if channel == "sms":
        return mask_phone(to)
    if channel == "email" and "@" in to:
        return mask_email(to)
    if channel == "wechat":  # an openid identifies one follower of the official account
        return f"{to[:4]}***" if len(to) > 4 else "***"
    return mask_text(to)


def safe_file_stem(key: str) -> str:
    """A file name for an idempotency key: letters, digits, `.`, `_`, `-`; a key that had to be changed
    (or cut) gets a short hash of the original so two keys never share a file."""
    stem = _UNSAFE.sub("_", key).lstrip(".")[:_MAX_STEM] or "_"
    if stem != key:
        stem = f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    return stem


class FileChannel(Channel):
    name: ClassVar[str] = "file"

    def __init__(self, outbox_dir: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self._root = outbox_dir
        self._clock = clock or (lambda: datetime.now(UTC))

    async def send(self, message: OutgoingMessage) -> Receipt:
        relative = Path(local_date(self._clock()).isoformat()) / (
            f"{safe_file_stem(message.idempotency_key)}.{_UNSAFE.sub('_', message.channel)}.txt"
        )
        try:
            await asyncio.to_thread(self._write, self._root / relative, _render(message))
        except OSError as exc:  # a full disk or a read-only folder: the message itself is fine
            raise TransientDeliveryError(f"cannot write the outbox file: {type(exc).__name__}") from exc
        return Receipt(provider_message_id=f"file:{relative.as_posix()}")

    @staticmethod
    def _write(path: Path, content: str) -> None:
        """Write whole or not at all: a reader (or a re-send) never sees half a message."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        temporary.write_text(content, encoding="utf-8")
        os.replace(temporary, path)


def _render(message: OutgoingMessage) -> str:
    lines = [
        f"channel: {message.channel}",
        f"to: {mask_recipient(message.channel, message.to)}",
        f"template: {message.template_key}",
        f"language: {message.language}",
        f"idempotency_key: {message.idempotency_key}",
        f"urgent: {'yes' if message.urgent else 'no'}",
    ]
    if message.subject:
        lines.append(f"subject: {message.subject}")
    lines += ["", message.text]
    if message.html:
        lines += ["", "--- html ---", message.html]
    return "\n".join(lines) + "\n"
