"""The local file channel: what `make up` shows with no channel configured."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from notifications.channels import FileChannel, mask_recipient
from notifications.message import OutgoingMessage, Receipt

PHONE = "+8613812345678"
# 17:30 UTC on 30 November is 01:30 on 1 December in Shanghai: the folder is the branch's day.
MOMENT = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)


def _message(
    text: str = "【郑州红十字会】志愿者 ZZ000123，感谢您的捐献！", **changes: object
) -> OutgoingMessage:
    fields: dict[str, object] = {
        "idempotency_key": "thanks:case-7",
        "channel": "sms",
        "to": PHONE,
        "template_key": "donation_thanks",
        "language": "zh-CN",
        "text": text,
    }
    fields.update(changes)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


def _send(outbox: Path, *messages: OutgoingMessage) -> list[Receipt]:
    async def scenario() -> list[Receipt]:
        channel = FileChannel(outbox, clock=lambda: MOMENT)
        try:
            return [await channel.send(message) for message in messages]
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def test_writes_the_message_under_the_shanghai_day_with_the_recipient_masked(tmp_path: Path) -> None:
    (receipt,) = _send(tmp_path, _message())

    files = list((tmp_path / "2026-12-01").iterdir())
    assert (
        len(files) == 1 and files[0].name.startswith("thanks_case-7-") and files[0].name.endswith(".sms.txt")
    )
    assert receipt == Receipt(provider_message_id=f"file:2026-12-01/{files[0].name}")
    content = files[0].read_text(encoding="utf-8")
    assert "13812345678" not in content
    assert "to: 138****5678" in content
    assert "template: donation_thanks" in content and "language: zh-CN" in content
    assert "感谢您的捐献" in content


def test_writing_the_same_key_again_overwrites_its_file(tmp_path: Path) -> None:
    first, second = _send(tmp_path, _message("first text"), _message("second text"))

    assert first == second
    (only,) = (tmp_path / "2026-12-01").iterdir()
    assert "second text" in only.read_text(encoding="utf-8")
    assert "first text" not in only.read_text(encoding="utf-8")


def test_an_email_keeps_subject_text_and_html_and_masks_the_address(tmp_path: Path) -> None:
    message = _message(
        "text part",
        channel="email",
        to="zhang.volunteer@example.cn",
        subject="感谢您的捐献",
        html="<p>html part</p>",
    )
    (receipt,) = _send(tmp_path, message)

    assert receipt.provider_message_id is not None
    content = (tmp_path / receipt.provider_message_id.removeprefix("file:")).read_text(encoding="utf-8")
    assert "zhang.volunteer" not in content and "z***@example.cn" in content
    assert "subject: 感谢您的捐献" in content
    assert "text part" in content and "<p>html part</p>" in content


def test_keys_that_differ_only_in_unsafe_characters_get_different_files(tmp_path: Path) -> None:
    receipts = _send(
        tmp_path,
        _message(idempotency_key="a:b/../c"),
        _message(idempotency_key="a_b_.._c"),
        _message(idempotency_key="a?b"),
    )

    assert len({receipt.provider_message_id for receipt in receipts}) == 3
    written = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.txt"))
    assert len(written) == 3 and all(path.parent == Path("2026-12-01") for path in written)


def test_recipients_are_masked_per_channel() -> None:
    assert mask_recipient("sms", PHONE) == "138****5678"
    assert mask_recipient("email", "zhang.volunteer@example.cn") == "z***@example.cn"
    assert mask_recipient("wechat", "oAbCdEfGhIjKlMnOpQrStUvWxYz0") == "oAbC***"
    assert mask_recipient("webhook", "group-bot") == "group-bot"
    # The demo's alert target has a name, not an address: shown, not blanked (it was "to: " before).
    assert mask_recipient("email", "coordinators") == "coordinators"
    assert mask_recipient("email", f"call {PHONE}") == "call 138****5678"
