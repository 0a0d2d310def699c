"""Webhook channel: POST the message as JSON, signed with HMAC-SHA256.

Header `X-LiveLoop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`
and `Idempotency-Key: <message.key>`. 2xx is DELIVERED; 408, 425, 429, 5xx and network errors
are RETRY (honouring Retry-After); any other status is FAILED with the receiver's words."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time

import httpx
import orjson

from liveloop.core.database import utcnow
from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryResult,
    DeliveryStatus,
    OutgoingMessage,
)

SIGNATURE_HEADER = "X-LiveLoop-Signature"
RETRY_STATUSES = frozenset({408, 425, 429})


def sign(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_signature(
    *, secret: str, header: str | None, body: bytes, now: float | None = None, tolerance: int = 300
) -> bool:
    """True when `header` signs `body` with `secret` and its time is within `tolerance`
    seconds of `now` (replays of old requests fail). Compares in constant time."""
    if not header or not secret:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))


def payload(message: OutgoingMessage) -> bytes:
    return orjson.dumps(
        {
            "key": message.key,
            "shop_id": message.shop_id,
            "kind": str(message.kind),
            "address": message.address,
            "customer_id": message.customer_id,
            "content": dataclasses.asdict(message.content),
            "metadata": message.metadata,
        },
        default=str,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class WebhookSender:
    kind = ChannelKind.WEBHOOK

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        rate_per_second: float,
        timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.rate_per_second = rate_per_second
        self._own_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = payload(message)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "User-Agent": "LiveLoop-Webhook/1",
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(secret=self.secret, body=body)
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"the receiver did not answer in time ({type(exc).__name__})",
                at=utcnow(),
            )
        except httpx.HTTPError as exc:
            return DeliveryResult(
                status=DeliveryStatus.RETRY,
                reason=f"could not reach the receiver: {type(exc).__name__}: {exc}",
                at=utcnow(),
            )
        code = response.status_code
        words = response.text[:200].strip()
        if 200 <= code < 300:
            return DeliveryResult(
                status=DeliveryStatus.DELIVERED,
                provider_code=str(code),
                provider_message_id=response.headers.get("X-Request-Id"),
                at=utcnow(),
            )
        retry = code in RETRY_STATUSES or code >= 500
        return DeliveryResult(
            status=DeliveryStatus.RETRY if retry else DeliveryStatus.FAILED,
            reason=f"the receiver answered HTTP {code}" + (f": {words}" if words else ""),
            provider_code=str(code),
            retry_after=_retry_after(response) if retry else None,
            at=utcnow(),
        )

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()
