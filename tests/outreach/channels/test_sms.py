"""SMS adapter: the request built from the channel config, the provider's answers (samples
written here, served by an httpx mock transport) mapped to results a person can act on, and
retries through `service.deliver`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from liveloop.outreach.channels import service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.channels.senders import check_config
from liveloop.outreach.channels.sms import SmsSender, dig
from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryStatus,
    OutgoingMessage,
    RenderedMessage,
)

PROVIDER = "https://sms.example.com/v1/send"
MESSAGE = OutgoingMessage(
    key="bc:12:345",
    shop_id=9,
    kind=ChannelKind.SMS,
    address="+8613800138000",
    content=RenderedMessage(text="【茶语】今晚8点直播，回T退订"),
    customer_id=345,
)
CONFIG = {
    "url": PROVIDER,
    "to_field": "phone_numbers",
    "text_field": "content",
    "key_field": "out_id",
    "extra": {"sign_name": "茶语小铺"},
    "ok_field": "code",
    "ok_values": ["OK"],
    "retry_values": ["THROTTLED"],
    "id_field": "data.biz_id",
    "message_field": "message",
}


class Provider:
    """Answers each request with the next sample (the last one repeats); keeps the requests."""

    def __init__(self, *samples: httpx.Response | Exception) -> None:
        self.samples = list(samples)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        sample = self.samples.pop(0) if len(self.samples) > 1 else self.samples[0]
        if isinstance(sample, Exception):
            raise sample
        return sample

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def reply(status: int, body: Any = None, **headers: str) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def sms(provider: Callable[[httpx.Request], httpx.Response], **config: Any) -> SmsSender:
    cleaned = check_config(ChannelKind.SMS, {**CONFIG, **config}, {"api_key": "k-123"})
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider))
    return SmsSender(config=cleaned, api_key="k-123", rate_per_second=20, http_client=client)


async def test_a_send_posts_the_configured_json_and_reads_the_id() -> None:
    provider = Provider(reply(200, {"code": "OK", "message": "OK", "data": {"biz_id": "9001^0"}}))
    sender = sms(provider)
    result = await sender.send(MESSAGE)
    assert result.status is DeliveryStatus.SENT
    assert (result.provider_code, result.provider_message_id) == ("OK", "9001^0")
    [request] = provider.requests
    assert str(request.url) == PROVIDER and request.method == "POST"
    assert provider.bodies() == [
        {"sign_name": "茶语小铺", "phone_numbers": "+8613800138000",
         "content": "【茶语】今晚8点直播，回T退订", "out_id": "bc:12:345"}
    ]  # fmt: skip
    assert request.headers["authorization"] == "Bearer k-123"
    assert request.headers["idempotency-key"] == "bc:12:345"


async def test_a_named_key_header_has_no_prefix_unless_configured() -> None:
    provider = Provider(reply(200, {"code": "OK"}))
    await sms(provider, api_key_header="X-Api-Key").send(MESSAGE)
    await sms(provider, api_key_header="X-Api-Key", api_key_prefix="Token ").send(MESSAGE)
    assert [r.headers["x-api-key"] for r in provider.requests] == ["k-123", "Token k-123"]
    assert all("authorization" not in r.headers for r in provider.requests)


async def test_nested_fields_do_not_change_the_channel_config() -> None:
    # The request is built afresh each time: a dotted to/text field writes into a copy of
    # `extra`, never into the channel's config (which would keep the last phone number).
    provider = Provider(reply(200, {"code": "OK"}))
    extra = {"sign_name": "茶语小铺", "payload": {"template": "SMS_1"}}
    sender = sms(provider, extra=extra, to_field="payload.to", text_field="payload.text")
    await sender.send(MESSAGE)
    second = OutgoingMessage(**{**MESSAGE.__dict__, "address": "+8613900139000"})
    await sender.send(second)
    assert [b["payload"] for b in provider.bodies()] == [
        {"template": "SMS_1", "to": "+8613800138000", "text": MESSAGE.content.text},
        {"template": "SMS_1", "to": "+8613900139000", "text": MESSAGE.content.text},
    ]
    assert sender.config["extra"] == {"sign_name": "茶语小铺", "payload": {"template": "SMS_1"}}


async def test_without_an_ok_field_any_2xx_is_sent() -> None:
    provider = Provider(reply(202, {"message_id": 77}))
    plain = {"url": PROVIDER}
    cleaned = check_config(ChannelKind.SMS, plain, {})
    sender = SmsSender(
        config=cleaned, api_key="", rate_per_second=1,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(provider)),
    )  # fmt: skip
    result = await sender.send(MESSAGE)
    assert result.status is DeliveryStatus.SENT
    assert (result.provider_code, result.provider_message_id) == ("202", "77")
    assert provider.bodies() == [{"to": MESSAGE.address, "text": MESSAGE.content.text}]
    assert "authorization" not in provider.requests[0].headers


async def test_provider_error_codes_become_clear_failures() -> None:
    samples = [
        ({"code": "isv.MOBILE_NUMBER_ILLEGAL", "message": "非法手机号"},
         "the SMS provider refused the message (isv.MOBILE_NUMBER_ILLEGAL): 非法手机号"),
        ({"code": "isv.AMOUNT_NOT_ENOUGH", "message": "账户余额不足"},
         "the SMS provider refused the message (isv.AMOUNT_NOT_ENOUGH): 账户余额不足"),
    ]  # fmt: skip
    for body, reason in samples:
        provider = Provider(reply(200, body))
        result = await service.deliver(sms(provider), MESSAGE, backoff=0)
        assert result.status is DeliveryStatus.FAILED
        assert result.reason == reason and result.provider_code == body["code"]
        assert len(provider.requests) == 1  # not worth retrying


async def test_http_refusals_carry_the_providers_words() -> None:
    provider = Provider(reply(401, {"message": "invalid api key"}))
    result = await service.deliver(sms(provider), MESSAGE, backoff=0)
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "401"
    assert result.reason == "the SMS provider refused the message (HTTP 401): invalid api key"
    provider = Provider(reply(400, "Bad Request: to is empty"))
    result = await service.deliver(sms(provider), MESSAGE, backoff=0)
    assert (
        result.reason == "the SMS provider refused the message (HTTP 400): Bad Request: to is empty"
    )
    assert len(provider.requests) == 1


async def test_throttling_is_retried_until_the_provider_accepts() -> None:
    provider = Provider(
        reply(200, {"code": "THROTTLED", "message": "触发流控"}),
        reply(429, {"message": "slow down"}, **{"Retry-After": "0"}),
        reply(503, "upstream unavailable"),
        reply(200, {"code": "OK", "data": {"biz_id": "b-2"}}),
    )
    result = await service.deliver(sms(provider), MESSAGE, backoff=0)
    assert result.status is DeliveryStatus.SENT and result.provider_message_id == "b-2"
    assert len(provider.requests) == 4
    # Every attempt carries the same idempotency key and out_id: the provider can deduplicate.
    assert {r.headers["idempotency-key"] for r in provider.requests} == {"bc:12:345"}
    assert {b["out_id"] for b in provider.bodies()} == {"bc:12:345"}


async def test_retry_answers_and_giving_up() -> None:
    sender = sms(Provider(reply(200, {})))
    limited = sender.result(reply(429, {"message": "slow down"}, **{"Retry-After": "7"}))
    assert limited.status is DeliveryStatus.RETRY and limited.retry_after == 7.0
    assert limited.reason == "the SMS provider answered HTTP 429: slow down"
    provider = Provider(reply(502, "<html>bad gateway</html>"))
    result = await service.deliver(sms(provider), MESSAGE, retries=2, backoff=0)
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "502"
    assert result.reason == (
        "gave up after 3 attempts: the SMS provider answered HTTP 502: <html>bad gateway</html>"
    )
    assert len(provider.requests) == 3


async def test_an_unreachable_provider_is_retried_then_reported() -> None:
    provider = Provider(httpx.ConnectError("connection refused"))
    result = await service.deliver(sms(provider), MESSAGE, retries=1, backoff=0)
    assert result.status is DeliveryStatus.FAILED and len(provider.requests) == 2
    assert "could not reach the SMS provider: ConnectError: connection refused" in result.reason


async def test_a_missing_ok_field_is_a_failure_not_a_success() -> None:
    provider = Provider(reply(200, {"status": "queued"}))
    result = await sms(provider).send(MESSAGE)
    assert result.status is DeliveryStatus.FAILED
    assert result.reason is not None and result.reason.startswith(
        "the SMS provider refused the message"
    )


async def test_numeric_codes_and_the_default_ok_values() -> None:
    provider = Provider(reply(200, {"code": 0, "result": {"sid": 5}}))
    sender = sms(provider, id_field="result.sid")
    del sender.config["ok_values"]  # default: "OK" or "0"
    result = await sender.send(MESSAGE)
    assert (result.status, result.provider_code, result.provider_message_id) == (
        DeliveryStatus.SENT, "0", "5",
    )  # fmt: skip


def test_dig_follows_dotted_paths() -> None:
    data = {"data": {"items": [{"id": "x1"}, {"id": "x2"}]}, "n": 0}
    assert dig(data, "data.items.1.id") == "x2"
    assert dig(data, "n") == 0
    for missing in ("data.items.5.id", "data.nothing", "n.deeper", "", None):
        assert dig(data, missing) is None


async def test_the_channel_opens_an_sms_sender_with_its_decrypted_key(settings) -> None:  # type: ignore[no-untyped-def]
    channel = ShopChannel(
        id=4, shop_id=9, kind="sms", name="短信", rate_per_second=5,
        config=check_config(ChannelKind.SMS, {"url": PROVIDER}, {"api_key": "k-9"}),
        secret=service.encrypt_secret({"api_key": "k-9"}, settings=settings),
    )  # fmt: skip
    provider = Provider(reply(200, {"message_id": "m"}))
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider))
    sender = service.open_sender(channel, settings=settings, http_client=client)
    assert isinstance(sender, SmsSender) and sender.rate_per_second == 5
    assert (await sender.send(MESSAGE)).status is DeliveryStatus.SENT
    assert provider.requests[0].headers["authorization"] == "Bearer k-9"
    await sender.aclose()
    assert not client.is_closed  # the caller's client is the caller's to close
    await client.aclose()
