"""The payment provider interface: prepay, verify a notification, refund.

A provider never touches the database: the payments service hands it plain values (a
`PaymentRequest`, a `RefundRequest`) and records what it answers. That keeps the adapters
testable on request/response samples alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# What a verified notification says about the trade (WeChat's trade_state values).
TRADE_SUCCESS = "SUCCESS"
TRADE_CLOSED = "CLOSED"
TRADE_PAYERROR = "PAYERROR"
TRADE_REFUND = "REFUND"

# Notifications older (or further in the future) than this are refused as replays.
NOTIFICATION_MAX_AGE = dt.timedelta(minutes=5)


class ProviderError(Exception):
    """The provider answered with an error, or could not be reached; `retryable` says whether
    the same call may succeed later (network, 5xx, rate limit)."""

    def __init__(self, message: str, *, code: str = "provider_error", retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class ForgedNotification(Exception):
    """A notification whose signature, timestamp or payload does not check out."""

    def __init__(self, message: str, *, code: str = "signature_invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class PaymentRequest:
    """What a provider needs to open a payment."""

    shop_id: int
    out_trade_no: str  # the payment number; unique per shop
    amount_fen: int
    description: str
    notify_url: str
    return_url: str
    client_ip: str | None
    openid: str | None = None  # WeChat JSAPI payer
    payment_id: int = 0
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class PrepayResult:
    """What the client needs to pay: a URL to open, or JSAPI parameters for wx.requestPayment."""

    kind: str  # redirect | jsapi
    pay_url: str | None = None
    jsapi_params: dict[str, str] | None = None
    provider_ref: str | None = None  # prepay_id and the like
    raw: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "pay_url": self.pay_url, "jsapi_params": self.jsapi_params}


@dataclass(frozen=True)
class VerifiedNotification:
    notification_id: str
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    status: str  # TRADE_SUCCESS, TRADE_CLOSED, ...
    paid_at: dt.datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    transaction_id: str | None
    out_refund_no: str  # the refund number: the provider deduplicates on it
    refund_fen: int
    total_fen: int
    reason: str
    notify_url: str


@dataclass(frozen=True)
class RefundResult:
    status: str  # succeeded | processing | failed
    provider_refund_id: str | None
    raw: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class PaymentProvider(Protocol):
    name: str

    async def create_prepay(self, payment: PaymentRequest) -> PrepayResult: ...

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime | None = None
    ) -> VerifiedNotification: ...

    async def refund(self, refund: RefundRequest) -> RefundResult: ...


def check_timestamp(timestamp: str, now: dt.datetime) -> None:
    """Refuse a notification whose signed timestamp is not within five minutes of now."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise ForgedNotification(
            f"the notification timestamp {timestamp[:20]!r} is not a number of seconds",
            code="timestamp_invalid",
        )
    sent = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    age = now - sent
    if abs(age) > NOTIFICATION_MAX_AGE:
        raise ForgedNotification(
            f"the notification was signed at {sent:%Y-%m-%d %H:%M:%S} UTC, "
            f"{int(abs(age.total_seconds()))} s from now (at most "
            f"{int(NOTIFICATION_MAX_AGE.total_seconds())} s allowed)",
            code="timestamp_out_of_range",
        )


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name; a missing one means a forged notification."""
    lowered = {key.lower(): value for key, value in headers.items()}
    value = lowered.get(name.lower())
    if not value:
        raise ForgedNotification(f"the notification has no {name} header", code="signature_missing")
    return value


def load_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ForgedNotification(
            "the notification body is not JSON", code="payload_invalid"
        ) from None
    if not isinstance(value, dict):
        raise ForgedNotification(
            "the notification body is not a JSON object", code="payload_invalid"
        )
    return value


def parse_transaction(envelope: dict[str, Any], resource: object) -> VerifiedNotification:
    """The trade fields of a (verified, decrypted) notification, or ForgedNotification when
    the payload does not have the shape a transaction notification has."""
    if not isinstance(resource, dict):
        raise ForgedNotification("the notification has no resource", code="payload_invalid")
    amount = resource.get("amount")
    total = amount.get("total") if isinstance(amount, dict) else None
    out_trade_no = resource.get("out_trade_no")
    if not isinstance(total, int) or not isinstance(out_trade_no, str):
        raise ForgedNotification(
            "the notification resource lacks out_trade_no or amount.total", code="payload_invalid"
        )
    paid_at = None
    success_time = resource.get("success_time")
    if isinstance(success_time, str):
        try:
            paid_at = dt.datetime.fromisoformat(success_time).astimezone(dt.UTC)
        except ValueError:
            paid_at = None
    return VerifiedNotification(
        notification_id=str(envelope.get("id", "")),
        out_trade_no=out_trade_no,
        transaction_id=str(resource.get("transaction_id", "")),
        amount_fen=total,
        status=str(resource.get("trade_state", "")),
        paid_at=paid_at,
        raw=resource,
    )
