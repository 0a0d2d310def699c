"""E-mail channel: real SMTP (plain, STARTTLS or implicit TLS, optional login), or the
`mailbox` transport that appends to `<var_dir>/mail/outbox.mbox` and sends nothing (the demo).

SMTP runs in a worker thread (`smtplib`); a reply of 4xx or a lost connection is RETRY, 5xx is
FAILED with the server's words and code."""

from __future__ import annotations

import asyncio
import mailbox
import re
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path

from liveloop.core.database import utcnow
from liveloop.outreach.contracts import ChannelKind, DeliveryResult, DeliveryStatus, OutgoingMessage

MAILBOX_HEADER = "X-LiveLoop-Mailbox"
MAILBOX_LABEL = "demo - not sent"
SHOP_HEADER = "X-LiveLoop-Shop"
KEY_HEADER = "X-LiveLoop-Key"

_mailbox_lock = threading.Lock()


def mailbox_path(var_dir: Path) -> Path:
    return Path(var_dir) / "mail" / "outbox.mbox"


def _message_id(key: str, domain: str) -> str:
    local = re.sub(r"[^A-Za-z0-9.\-]", ".", key).strip(".") or "message"
    return f"<{local}@{domain}>"


def build_email(message: OutgoingMessage, *, from_addr: str, from_name: str = "") -> EmailMessage:
    content = message.content
    email = EmailMessage()
    email["From"] = formataddr((from_name, from_addr)) if from_name else from_addr
    email["To"] = message.address
    first_line = content.text.strip().splitlines()[0][:80] if content.text.strip() else ""
    email["Subject"] = content.subject or first_line
    email["Date"] = formatdate(localtime=False)
    domain = from_addr.rpartition("@")[2] or "liveloop.local"
    email["Message-ID"] = _message_id(message.key, domain)
    email[KEY_HEADER] = message.key
    unsubscribe = message.metadata.get("unsubscribe_url")
    if unsubscribe:
        email["List-Unsubscribe"] = f"<{unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(content.text or "")
    if content.html:
        email.add_alternative(content.html, subtype="html")
    return email


def _result_for(exc: Exception) -> DeliveryResult:
    at = utcnow()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, words = next(iter(exc.recipients.values()), (550, b"refused"))
        return _coded(code, words, "the server refused the recipient", at)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryResult(
            status=DeliveryStatus.FAILED,
            reason=f"the SMTP server refused the login: {_words(exc.smtp_error)}",
            provider_code=str(exc.smtp_code),
            at=at,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _coded(exc.smtp_code, exc.smtp_error, "the SMTP server refused the message", at)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryResult(status=DeliveryStatus.FAILED, reason=f"SMTP server: {exc}", at=at)
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout)):
        return DeliveryResult(
            status=DeliveryStatus.RETRY,
            reason=f"could not talk to the SMTP server: {type(exc).__name__}: {exc}",
            at=at,
        )
    return DeliveryResult(status=DeliveryStatus.RETRY, reason=f"{type(exc).__name__}: {exc}", at=at)


def _words(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _coded(code: int, words: bytes | str, what: str, at: object) -> DeliveryResult:
    retry = 400 <= int(code) < 500
    return DeliveryResult(
        status=DeliveryStatus.RETRY if retry else DeliveryStatus.FAILED,
        reason=f"{what}: {code} {_words(words)}",
        provider_code=str(code),
        at=at,  # type: ignore[arg-type]
    )


class SmtpSender:
    kind = ChannelKind.EMAIL

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        from_addr: str,
        from_name: str,
        rate_per_second: float,
        timeout: float = 15.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.from_addr, self.from_name = from_addr, from_name
        self.rate_per_second = rate_per_second
        self.timeout = timeout

    def _send_sync(self, email: EmailMessage, to: str) -> None:
        context = ssl.create_default_context()
        if self.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if self.username:
                client.login(self.username, self.password)
            client.send_message(email, from_addr=self.from_addr, to_addrs=[to])

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        email = build_email(message, from_addr=self.from_addr, from_name=self.from_name)
        try:
            await asyncio.to_thread(self._send_sync, email, message.address)
        except Exception as exc:
            return _result_for(exc)
        return DeliveryResult(
            status=DeliveryStatus.DELIVERED,
            provider_code="250",
            provider_message_id=email["Message-ID"],
            at=utcnow(),
        )

    async def aclose(self) -> None:
        return None


class MailboxSender:
    """Writes each message to a local mbox file, labelled as not sent. For the demo and for
    trying a template; nothing leaves the machine."""

    kind = ChannelKind.EMAIL

    def __init__(
        self, *, path: Path, shop_id: int, from_addr: str, from_name: str, rate_per_second: float
    ) -> None:
        self.path = path
        self.shop_id = shop_id
        self.from_addr, self.from_name = from_addr, from_name
        self.rate_per_second = rate_per_second

    def _append(self, email: EmailMessage) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _mailbox_lock:
            box = mailbox.mbox(self.path)
            box.lock()
            try:
                box.add(email)
                box.flush()
            finally:
                box.unlock()
                box.close()

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        email = build_email(message, from_addr=self.from_addr, from_name=self.from_name)
        email[MAILBOX_HEADER] = MAILBOX_LABEL
        email[SHOP_HEADER] = str(self.shop_id)
        try:
            await asyncio.to_thread(self._append, email)
        except OSError as exc:
            return DeliveryResult(
                status=DeliveryStatus.FAILED,
                reason=f"could not write the mailbox file {self.path}: {exc}",
                at=utcnow(),
            )
        return DeliveryResult(
            status=DeliveryStatus.DELIVERED,
            reason="written to the local mailbox file (demo - not sent)",
            provider_message_id=email["Message-ID"],
            at=utcnow(),
        )

    async def aclose(self) -> None:
        return None
