"""E-mail over SMTP against a real aiosmtpd server on loopback: parts, UTF-8 subject, a stable Message-ID,
refusals, a server that is down, and STARTTLS/SSL with a self-signed certificate made in the test."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from models.core.errors import PermanentDeliveryError, TransientDeliveryError
from notifications.channels import SmtpChannel, SmtpConfig, message_id_for
from notifications.message import OutgoingMessage, Receipt

MEMBER = "zhang.volunteer@example.cn"
REFUSED = "gone@example.cn"
GREYLISTED = "later@example.cn"
SUBJECT = "体检预约：2026-12-01 河南省人民医院"
TEXT = "志愿者 ZZ000123：体检定于 2026-12-01，前一晚零点起禁食，请带身份证。"
HTML = "<p>志愿者 ZZ000123：体检定于 <b>2026-12-01</b>。</p>"


@dataclass(frozen=True)
class Arrival:
    encrypted: bool
    authenticated: bool


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what arrives, refuses REFUSED (550) and greylists GREYLISTED (451)."""

    received: list[tuple[Arrival, EmailMessage]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == REFUSED:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address == GREYLISTED:
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        encrypted = server.transport.get_extra_info("ssl_object") is not None  # STARTTLS or implicit TLS
        self.received.append((Arrival(encrypted, bool(session.authenticated)), parsed))
        self.raw.append(envelope.original_content)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(mailbox: Mailbox, **options: Any) -> Iterator[int]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), **options)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture(scope="module")
def plain_port(mailbox: Mailbox) -> Iterator[int]:
    with _server(mailbox) as port:
        yield port


@pytest.fixture(autouse=True)
def _empty_mailbox(mailbox: Mailbox) -> None:
    mailbox.received.clear()
    mailbox.raw.clear()


def _message(key: str = "exam:case-7", *, to: str = MEMBER, html: str = HTML) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel="email",
        to=to,
        template_key="exam_booking",
        language="zh-CN",
        subject=SUBJECT,
        text=TEXT,
        html=html,
    )


def _send(config: SmtpConfig, message: OutgoingMessage) -> Receipt:
    async def scenario() -> Receipt:
        channel = SmtpChannel(config)
        try:
            return await channel.send(message)
        finally:
            await channel.aclose()

    return asyncio.run(scenario())


def _plain(port: int) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        security="plain",
        from_address="noreply@redcross-zz.example.cn",
        timeout=5,
    )


def test_text_and_html_parts_arrive_with_a_utf8_subject(mailbox: Mailbox, plain_port: int) -> None:
    receipt = _send(_plain(plain_port), _message())

    ((_, email),) = mailbox.received
    assert email.get_content_type() == "multipart/alternative"
    text, html = email.iter_parts()
    assert (text.get_content_type(), text.get_content().strip()) == ("text/plain", TEXT)
    assert (html.get_content_type(), html.get_content().strip()) == ("text/html", HTML)
    assert email["Subject"] == SUBJECT
    assert b"Subject: =?utf-8?" in mailbox.raw[0]  # RFC 2047 encoded: 7-bit safe on any relay
    assert email["To"] == MEMBER
    assert receipt == Receipt(provider_message_id=email["Message-ID"])


def test_a_message_without_html_is_text_only(mailbox: Mailbox, plain_port: int) -> None:
    _send(_plain(plain_port), _message(html=""))

    ((_, email),) = mailbox.received
    assert email.get_content_type() == "text/plain"
    assert email.get_content().strip() == TEXT


def test_a_resend_carries_the_same_message_id_and_another_key_another(
    mailbox: Mailbox, plain_port: int
) -> None:
    _send(_plain(plain_port), _message("exam:case-7"))
    _send(_plain(plain_port), _message("exam:case-7"))
    _send(_plain(plain_port), _message("exam:case-8"))

    first, again, other = (email["Message-ID"] for _, email in mailbox.received)
    assert first == again == message_id_for("exam:case-7")
    assert other != first
    assert first.endswith("@donorflow>") and "case" not in first


def test_a_refused_recipient_is_permanent_and_the_error_shows_no_address(plain_port: int) -> None:
    with pytest.raises(PermanentDeliveryError, match="550") as caught:
        _send(_plain(plain_port), _message(to=REFUSED))

    cause = caught.value.__cause__
    assert cause is not None and "550" in str(cause) and "g***@example.cn" in str(cause)
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    for shown in (str(caught.value), str(cause)):
        assert REFUSED not in shown


def test_a_greylisted_recipient_is_transient(plain_port: int) -> None:
    with pytest.raises(TransientDeliveryError, match="451"):
        _send(_plain(plain_port), _message(to=GREYLISTED))


def test_a_server_that_is_down_is_transient() -> None:
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        _send(_plain(_free_port()), _message())


# -- TLS ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made here: no file in the repository, nothing to expire."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "donorflow test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(folder / "cert.pem", folder / "key.pem")


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"relay",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535 itself


def test_starttls_with_login_delivers_over_an_encrypted_session(
    mailbox: Mailbox, certificate: Certificate
) -> None:
    options = {
        "tls_context": certificate.server_context(),
        "require_starttls": True,
        "authenticator": _authenticator,
        "auth_require_tls": True,
    }
    with _server(mailbox, **options) as port:
        config = SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="starttls",
            user="relay",
            password="s3cret",
            from_address="noreply@redcross-zz.example.cn",
            timeout=5,
            tls_context=certificate.client_context(),
        )
        _send(config, _message())
        with pytest.raises(TransientDeliveryError, match="SMTPAuthenticationError"):  # our account: later
            _send(replace(config, password="wrong"), _message())
        with pytest.raises(TransientDeliveryError, match="SSLCertVerificationError"):  # CA not trusted
            _send(replace(config, tls_context=None), _message())

    ((arrival, email),) = mailbox.received
    assert arrival == Arrival(encrypted=True, authenticated=True)
    assert email["Subject"] == SUBJECT


def test_implicit_ssl_delivers(mailbox: Mailbox, certificate: Certificate) -> None:
    with _server(mailbox, ssl_context=certificate.server_context()) as port:
        config = SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="ssl",
            from_address="noreply@redcross-zz.example.cn",
            timeout=5,
            tls_context=certificate.client_context(),
        )
        _send(config, _message())

    ((arrival, _),) = mailbox.received
    assert arrival.encrypted
