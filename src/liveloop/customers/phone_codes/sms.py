"""Text messages out: the `SmsSender` interface and the two built-in providers, demo and log.

A real carrier (Aliyun SMS, Tencent Cloud SMS...) belongs to the outreach channels (issue 7);
it plugs in here by implementing `SmsSender` and being named by LIVELOOP_SMS_PROVIDER.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import structlog

from liveloop.core.security import mask_phone
from liveloop.core.settings import Settings

log = structlog.get_logger(__name__)


class SmsSender(Protocol):
    """Sends one text message. Called after the transaction that decided to send commits."""

    # True only for the demo provider: the API may then hand the code back to the page,
    # because there is no real phone to receive it.
    reveals_codes: bool

    def send(self, phone: str, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SentSms:
    phone: str
    text: str
    sent_at: dt.datetime


class DemoOutbox:
    """The messages the demo provider 'sent', newest last (bounded, in this process)."""

    def __init__(self, size: int = 500) -> None:
        self._messages: deque[SentSms] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, message: SentSms) -> None:
        with self._lock:
            self._messages.append(message)

    def messages(self, phone: str | None = None) -> list[SentSms]:
        with self._lock:
            found = list(self._messages)
        return [m for m in found if phone is None or m.phone == phone]

    def last_text(self, phone: str) -> str | None:
        found = self.messages(phone)
        return found[-1].text if found else None

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


demo_outbox = DemoOutbox()


class DemoSmsSender:
    """Sends nothing: keeps the message in `demo_outbox` (the demo page shows the code)."""

    reveals_codes = True

    def send(self, phone: str, text: str) -> None:
        demo_outbox.add(SentSms(phone=phone, text=text, sent_at=dt.datetime.now(dt.UTC)))


class LogSmsSender:
    """Development: one log line per message, the phone masked."""

    reveals_codes = False

    def send(self, phone: str, text: str) -> None:
        log.info("sms_sent", provider="log", phone=mask_phone(phone), text=text)


SMS_PROVIDERS: dict[str, type[DemoSmsSender] | type[LogSmsSender]] = {
    "demo": DemoSmsSender,
    "log": LogSmsSender,
}


def sms_sender_for(settings: Settings) -> SmsSender:
    """The provider LIVELOOP_SMS_PROVIDER names."""
    return SMS_PROVIDERS[settings.sms_provider]()
