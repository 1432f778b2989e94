"""E-mail over SMTP (STARTTLS, SSL or plain per settings): a text part, plus an HTML alternative when
there is one; a UTF-8 subject; a Message-ID derived from the idempotency key, so a re-send is the same
message to every client that de-duplicates on it.

Stdlib smtplib in a worker thread (asyncio.to_thread), one connection per message: the volume is small
(coordinator alerts, members who chose e-mail), and no dependency is added for it.

Failures: a 4xx reply, a dropped or refused connection, a timeout → transient; a 5xx reply about the
message (sender, recipient or data refused, e.g. 550 mailbox unavailable) → permanent (RFC 5321 §4.2.1:
4yz transient negative, 5yz permanent negative). An authentication failure or a server without STARTTLS is
our account's problem, not the message's: transient, so the messages wait until the setting is fixed.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar, Literal

from models.core import mask_email, mask_text
from models.core.errors import DonorflowError, PermanentDeliveryError, TransientDeliveryError
from notifications.message import Channel, OutgoingMessage, Receipt

__all__ = ["SmtpChannel", "SmtpConfig", "message_id_for"]

Security = Literal["starttls", "ssl", "plain"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "plain": 25}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    from_address: str
    port: int | None = None  # None: 587 / 465 / 25 by security
    security: Security = "starttls"
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    # None: the system's trusted CAs. Tests (or a branch's own relay) pass a context trusting their CA.
    tls_context: ssl.SSLContext | None = None

    @property
    def resolved_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def message_id_for(idempotency_key: str) -> str:
    """`<hash@donorflow>`: stable for a key, opaque (the key names a case or a step, not a person)."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@donorflow>"


class SmtpChannel(Channel):
    name: ClassVar[str] = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._tls_context: ssl.SSLContext | None = config.tls_context

    def _context(self) -> ssl.SSLContext:
        """Made once: loading the system's CA store takes a noticeable fraction of a second."""
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    async def send(self, message: OutgoingMessage) -> Receipt:
        try:
            email = self._compose(message)
        except (ValueError, TypeError) as exc:  # e.g. a line break in a header: never deliverable
            raise PermanentDeliveryError(f"the e-mail cannot be composed: {type(exc).__name__}") from None
        await asyncio.to_thread(self._deliver, email, message.to)
        return Receipt(provider_message_id=email["Message-ID"])

    def _compose(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()  # policy.default: a non-ASCII subject is RFC 2047 encoded as UTF-8
        email["Subject"] = message.subject
        email["From"] = self._config.from_address
        email["To"] = message.to
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = message_id_for(message.idempotency_key)
        email.set_content(message.text, charset="utf-8")
        if message.html:
            email.add_alternative(message.html, subtype="html", charset="utf-8")
        return email

    def _deliver(self, email: EmailMessage, to: str) -> None:
        refusal = self._attempt(email, to)
        if refusal is not None:
            # Raised here, outside the handler: smtplib's exception, whose arguments carry the address
            # unmasked, is not kept as its context; the scrubbed reply is its cause.
            raise refusal

    def _attempt(self, email: EmailMessage, to: str) -> DonorflowError | None:
        config = self._config
        try:
            with self._connect() as smtp:
                if config.user:
                    smtp.login(config.user, config.password)
                smtp.send_message(email, from_addr=config.from_address, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b""))
            return _refusal(code, reply, to, "SMTP server refused the recipient")
        except (
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPNotSupportedError,
            smtplib.SMTPConnectError,
            smtplib.SMTPHeloError,
        ) as exc:
            raise TransientDeliveryError(
                f"SMTP connection, login or STARTTLS failed ({type(exc).__name__}): check DONORFLOW_SMTP_*"
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender or data refused
            return _refusal(exc.smtp_code, exc.smtp_error, to, "SMTP server refused the message")
        except (smtplib.SMTPException, OSError) as exc:  # dropped connection, refused, timeout, TLS
            raise TransientDeliveryError(f"SMTP server unreachable: {type(exc).__name__}") from exc
        return None

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        if config.security == "ssl":
            return smtplib.SMTP_SSL(
                config.host, config.resolved_port, timeout=config.timeout, context=self._context()
            )
        smtp = smtplib.SMTP(config.host, config.resolved_port, timeout=config.timeout)
        try:
            if config.security == "starttls":
                smtp.starttls(context=self._context())
        except BaseException:
            smtp.close()
            raise
        return smtp

    async def aclose(self) -> None:
        """Nothing held: one connection per message."""


def _refusal(code: int, reply: bytes | str, address: str, what: str) -> DonorflowError:
    """4yz → transient, 5yz → permanent; the server's reply chained, the address in it masked (a reply
    often repeats it: `550 <a@b.cn>: unknown user`)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    if address:
        text = text.replace(address, mask_email(address))
    error: DonorflowError
    if 400 <= code < 500:
        error = TransientDeliveryError(f"{what}: {code} (try again later)")
    else:
        error = PermanentDeliveryError(f"{what}: {code}")
    error.__cause__ = smtplib.SMTPResponseException(code, mask_text(text)[:200])
    return error
