"""What the outreach parts promise each other: a channel kind, a rendered message, a receipt.

Channels deliver, templates render, consent decides who may be reached and when, broadcasts
tie them together. Each part imports these shapes from here, never from another part's
internals, so each can be built and tested alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ChannelKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    WECOM_CUSTOMER = "wecom_customer"  # 企业微信 客户群发 (to external contacts)
    WECOM_GROUP = "wecom_group"  # 企业微信 客户群群发 (to customer group chats)
    SMS = "sms"


# The key of `Customer.consent` (per-channel marketing consent) each kind answers to.
CONSENT_KEY: dict[ChannelKind, str] = {
    ChannelKind.EMAIL: "email",
    ChannelKind.WEBHOOK: "webhook",
    ChannelKind.WECOM_CUSTOMER: "wecom",
    ChannelKind.WECOM_GROUP: "wecom",
    ChannelKind.SMS: "sms",
}


@dataclass(frozen=True)
class RenderedMessage:
    """One message after its template met one recipient. Which parts a channel uses:
    e-mail subject/html/text; WeCom text plus at most one of image/link/mini-program card;
    SMS text; webhook all of it as JSON."""

    text: str
    subject: str | None = None
    html: str | None = None
    image_url: str | None = None
    link_url: str | None = None
    link_title: str | None = None
    link_description: str | None = None
    miniprogram: dict[str, str] | None = None  # {"appid", "pagepath", "title", "media_id"?}
    marketing: bool = True  # transactional messages (order updates) are False


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to one address. `key` is stable per logical message (e.g.
    "bc:12:r:3456") so a provider that deduplicates, and our receipts, see one message."""

    key: str
    shop_id: int
    kind: ChannelKind
    address: str  # e-mail address, phone, WeCom external_userid / chat_id, customer id
    content: RenderedMessage
    customer_id: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class DeliveryStatus(StrEnum):
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"  # the provider confirmed delivery (SMTP accepted, 2xx webhook)
    RETRY = "retry"  # failed in a way worth retrying (timeouts, 5xx, rate limited)
    FAILED = "failed"  # permanent (bad address, rejected, auth); `reason` says why


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    reason: str | None = None  # a sentence a person can act on, with the provider's words
    provider_code: str | None = None  # e.g. WeCom errcode "41001", SMTP "550"
    provider_message_id: str | None = None
    retry_after: float | None = None  # seconds, when the provider said so
    at: dt.datetime | None = None


class ChannelSender(Protocol):
    """A configured channel of one shop, ready to send. Implementations never raise for a
    delivery problem: they return a DeliveryResult with RETRY or FAILED."""

    kind: ChannelKind
    rate_per_second: float

    async def send(self, message: OutgoingMessage) -> DeliveryResult: ...

    async def aclose(self) -> None: ...
