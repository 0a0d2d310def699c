"""Webhook: HMAC signature a receiver can verify, Idempotency-Key, and retries with backoff
against a real local HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from liveloop.outreach.channels import service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.channels.webhook import sign
from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryStatus,
    OutgoingMessage,
    RenderedMessage,
)

SECRET = "whsec_test_123"


def channel(url: str) -> ShopChannel:
    return ShopChannel(
        id=3,
        shop_id=9,
        kind="webhook",
        name="hook",
        config={"url": url},
        secret=None,
        rate_per_second=50,
    )


def open_hook(url: str, settings, **kw):  # type: ignore[no-untyped-def]
    record = channel(url)
    record.secret = service.encrypt_secret({"signing_secret": SECRET}, settings=settings)
    return service.open_sender(record, settings=settings, **kw)


MESSAGE = OutgoingMessage(
    key="bc:5:77",
    shop_id=9,
    kind=ChannelKind.WEBHOOK,
    address="77",
    content=RenderedMessage(text="今晚直播", link_url="http://x.test/r/abc"),
    customer_id=77,
)


def test_signature_known_value_and_verification() -> None:
    body = b'{"a":1}'
    header = sign(secret="s3cret", body=body, timestamp=1_700_000_000)
    # Hand-computed: HMAC-SHA256("s3cret", "1700000000.{\"a\":1}").
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    ok = service.verify_signature
    assert ok(secret="s3cret", header=header, body=body, now=1_700_000_100)
    assert not ok(secret="s3cret", header=header, body=b'{"a":2}', now=1_700_000_100)
    assert not ok(secret="other", header=header, body=body, now=1_700_000_100)
    # Too old (replay) and from the future beyond the tolerance.
    assert not ok(secret="s3cret", header=header, body=body, now=1_700_000_301)
    assert not ok(secret="s3cret", header=header, body=body, now=1_699_999_000)
    assert ok(secret="s3cret", header=header, body=body, now=1_700_000_301, tolerance=600)
    for bad in (None, "", "garbage", "t=abc,v1=00", f"v1={expected}", "t=1700000000"):
        assert not ok(secret="s3cret", header=bad, body=body, now=1_700_000_000)
    # Several v1 values (secret rotation): one matching is enough.
    rotated = f"t=1700000000,v1={'0' * 64},v1={expected}"
    assert ok(secret="s3cret", header=rotated, body=body, now=1_700_000_000)


async def test_the_receiver_gets_a_signed_json_post(receiver, settings) -> None:
    sender = open_hook(receiver.url, settings)
    result = await service.deliver(sender, MESSAGE, backoff=0)
    await sender.aclose()
    assert result.status is DeliveryStatus.DELIVERED and result.provider_code == "200"
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["idempotency-key"] == "bc:5:77"
    assert headers["content-type"] == "application/json"
    assert service.verify_signature(
        secret=SECRET, header=headers["x-liveloop-signature"], body=request["body"]
    )
    body = json.loads(request["body"])
    assert body["key"] == "bc:5:77" and body["customer_id"] == 77 and body["kind"] == "webhook"
    assert body["content"]["text"] == "今晚直播"
    assert body["content"]["link_url"] == "http://x.test/r/abc"


async def test_5xx_and_429_are_retried_with_the_same_key(receiver, settings) -> None:
    receiver.replies[:] = [(503, {}, "down"), (429, {"Retry-After": "0"}, "slow down")]
    sender = open_hook(receiver.url, settings)
    result = await service.deliver(sender, MESSAGE, retries=3, backoff=0)
    assert result.status is DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 3
    keys = {
        {k.lower(): v for k, v in r["headers"].items()}["idempotency-key"]
        for r in receiver.requests
    }
    assert keys == {"bc:5:77"}


async def test_retries_give_up_with_the_receivers_reason(receiver, settings) -> None:
    receiver.replies[:] = [(502, {}, "bad gateway")] * 3
    sender = open_hook(receiver.url, settings)
    result = await service.deliver(sender, MESSAGE, retries=2, backoff=0)
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "502"
    assert result.reason == "gave up after 3 attempts: the receiver answered HTTP 502: bad gateway"
    assert len(receiver.requests) == 3


async def test_other_4xx_fail_at_once(receiver, settings) -> None:
    receiver.replies[:] = [(410, {}, "customer unknown")]
    sender = open_hook(receiver.url, settings)
    result = await service.deliver(sender, MESSAGE, retries=3, backoff=0)
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "410"
    assert result.reason == "the receiver answered HTTP 410: customer unknown"
    assert len(receiver.requests) == 1


async def test_retry_after_and_network_errors(settings) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(429, headers={"Retry-After": "7"}, text="later")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sender = open_hook("http://hook.test/x", settings, http_client=client)
        first = await sender.send(MESSAGE)
        assert first.status is DeliveryStatus.RETRY and "ConnectError" in (first.reason or "")
        second = await sender.send(MESSAGE)
        assert second.status is DeliveryStatus.RETRY and second.retry_after == 7.0


async def test_deliver_waits_with_exponential_backoff(monkeypatch) -> None:
    from liveloop.outreach.channels import service as module
    from liveloop.outreach.contracts import DeliveryResult

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(module.asyncio, "sleep", fake_sleep)

    class Flaky:
        kind = ChannelKind.WEBHOOK
        rate_per_second = 1.0
        answers = [  # noqa: RUF012
            DeliveryResult(status=DeliveryStatus.RETRY, reason="a"),
            DeliveryResult(status=DeliveryStatus.RETRY, reason="b", retry_after=10),
            DeliveryResult(status=DeliveryStatus.RETRY, reason="c"),
            DeliveryResult(status=DeliveryStatus.SENT),
        ]

        async def send(self, message):  # type: ignore[no-untyped-def]
            return self.answers.pop(0)

        async def aclose(self) -> None:
            return None

    result = await module.deliver(Flaky(), MESSAGE, retries=3, backoff=0.5)
    assert result.status is DeliveryStatus.SENT
    # 0.5 * 2**0, max(0.5 * 2**1, retry_after 10), 0.5 * 2**2
    assert waits == [0.5, 10, 2.0]
