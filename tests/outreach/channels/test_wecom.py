"""WeCom mass messages on request/response samples shaped on the public API: the token
cache and its refresh, the request bodies, and the error codes mapped to sentences."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from liveloop.outreach.channels import service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.contracts import (
    ChannelKind,
    DeliveryStatus,
    OutgoingMessage,
    RenderedMessage,
)

BASE = "https://qyapi.weixin.qq.com"


def channel(kind: str, settings: Any, **config: Any) -> ShopChannel:
    record = ShopChannel(
        id=4,
        shop_id=1,
        kind=kind,
        name="wecom",
        config={"corpid": "ww1234567890", "sender": "zhangsan", **config},
        rate_per_second=5,
    )
    record.secret = service.encrypt_secret({"corpsecret": "corp-secret-x"}, settings=settings)
    return record


def message(kind: ChannelKind, address: str, **content: Any) -> OutgoingMessage:
    return OutgoingMessage(
        key="bc:1:1",
        shop_id=1,
        kind=kind,
        address=address,
        content=RenderedMessage(text="今晚8点直播", **content),
    )


class FakeWeCom:
    """Answers gettoken with a new token each time; add_msg_template from `answers`."""

    def __init__(self, answers: list[dict[str, Any]] | None = None, expires_in: int = 7200):
        self.answers = answers or []
        self.expires_in = expires_in
        self.tokens = 0
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.token_answer: dict[str, Any] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/gettoken":
            assert request.url.params["corpid"] == "ww1234567890"
            assert request.url.params["corpsecret"] == "corp-secret-x"
            if self.token_answer is not None:
                return httpx.Response(200, json=self.token_answer)
            self.tokens += 1
            return httpx.Response(
                200,
                json={
                    "errcode": 0,
                    "errmsg": "ok",
                    "access_token": f"TOKEN{self.tokens}",
                    "expires_in": self.expires_in,
                },
            )
        assert request.url.path == "/cgi-bin/externalcontact/add_msg_template"
        self.posts.append((request.url.params["access_token"], json.loads(request.content)))
        answer = (
            self.answers.pop(0)
            if self.answers
            else {
                "errcode": 0,
                "errmsg": "ok",
                "fail_list": [],
                "msgid": "msgGCAAAXtWyujaWJHDDGi0mACAAAA",
            }
        )
        return httpx.Response(200, json=answer)


async def run(fake: Callable[..., Any], record: ShopChannel, settings: Any, *messages: Any):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        sender = service.open_sender(record, settings=settings, http_client=client)
        return [await service.deliver(sender, m, retries=1, backoff=0) for m in messages]


async def test_customer_mass_message_body_and_token_cache(settings) -> None:
    fake = FakeWeCom()
    record = channel("wecom_customer", settings)
    first, second = await run(
        fake,
        record,
        settings,
        message(
            ChannelKind.WECOM_CUSTOMER,
            "wmqfasd1e1927831291723123109rAAA",
            link_url="https://shop.test/r/abc",
            link_title="直播间",
            link_description="点击进入",
            image_url="https://img.test/cover.png",
        ),
        message(ChannelKind.WECOM_CUSTOMER, "wmOTHER", image_url="https://img.test/p.png"),
    )
    assert first.status is DeliveryStatus.SENT
    assert first.provider_message_id == "msgGCAAAXtWyujaWJHDDGi0mACAAAA"
    assert second.status is DeliveryStatus.SENT
    assert fake.tokens == 1  # the second send used the cached token
    (token1, body1), (token2, body2) = fake.posts
    assert token1 == token2 == "TOKEN1"
    assert body1 == {
        "chat_type": "single",
        "external_userid": ["wmqfasd1e1927831291723123109rAAA"],
        "sender": "zhangsan",
        "text": {"content": "今晚8点直播"},
        "attachments": [
            {
                "msgtype": "link",
                "link": {
                    "title": "直播间",
                    "url": "https://shop.test/r/abc",
                    "picurl": "https://img.test/cover.png",
                    "desc": "点击进入",
                },
            }
        ],
    }
    assert body2["attachments"] == [
        {"msgtype": "image", "image": {"pic_url": "https://img.test/p.png"}}
    ]


async def test_group_mass_message_with_a_miniprogram_card(settings) -> None:
    fake = FakeWeCom()
    [result] = await run(
        fake,
        channel("wecom_group", settings),
        settings,
        message(
            ChannelKind.WECOM_GROUP,
            "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA",
            miniprogram={
                "appid": "wx8bd80126147dfAAA",
                "pagepath": "/live/abc",
                "title": "直播",
                "media_id": "MEDIA_ID",
            },
        ),
    )
    assert result.status is DeliveryStatus.SENT
    body = fake.posts[0][1]
    assert body["chat_type"] == "group" and body["chat_id_list"] == [
        "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    ]
    assert "external_userid" not in body
    assert body["attachments"] == [
        {
            "msgtype": "miniprogram",
            "miniprogram": {
                "title": "直播",
                "pic_media_id": "MEDIA_ID",
                "appid": "wx8bd80126147dfAAA",
                "page": "/live/abc",
            },
        }
    ]


async def test_an_expired_token_is_fetched_again_once(settings) -> None:
    fake = FakeWeCom(answers=[{"errcode": 42001, "errmsg": "access_token expired"}])
    [result] = await run(
        fake,
        channel("wecom_customer", settings),
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
    )
    assert result.status is DeliveryStatus.SENT
    assert fake.tokens == 2
    assert [token for token, _ in fake.posts] == ["TOKEN1", "TOKEN2"]


async def test_a_token_past_its_lifetime_is_not_used(settings) -> None:
    # expires_in 30 s is within the minute kept in hand: each send fetches a new token.
    fake = FakeWeCom(expires_in=30)
    record = channel("wecom_customer", settings)
    await run(
        fake,
        record,
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
        message(ChannelKind.WECOM_CUSTOMER, "wm2"),
    )
    assert fake.tokens == 2


async def test_rate_limits_are_retried_then_recorded(settings, monkeypatch) -> None:
    from liveloop.outreach.channels import service as module

    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(module.asyncio, "sleep", no_sleep)
    busy = {"errcode": 45009, "errmsg": "api freq out of limit"}
    fake = FakeWeCom(answers=[busy, {"errcode": 0, "errmsg": "ok", "msgid": "m2"}])
    [ok] = await run(
        fake,
        channel("wecom_customer", settings),
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
    )
    assert ok.status is DeliveryStatus.SENT and ok.provider_message_id == "m2"

    fake = FakeWeCom(answers=[busy, busy])
    [failed] = await run(
        fake,
        channel("wecom_customer", settings),
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
    )
    assert failed.status is DeliveryStatus.FAILED and failed.provider_code == "45009"
    assert failed.reason == (
        "gave up after 2 attempts: WeCom's API rate limit was reached "
        "(errcode 45009: api freq out of limit)"
    )


async def test_error_codes_are_clear_and_permanent(settings) -> None:
    cases = {
        40096: "the external contact id (external_userid) is not valid (errcode 40096: invalid external userid)",
        48002: "this API is not allowed for the app (enable 客户联系 for the secret in use) (errcode 48002: api forbidden)",
        12345: "WeCom refused the request (errcode 12345: something new)",
    }
    words = {40096: "invalid external userid", 48002: "api forbidden", 12345: "something new"}
    for code, reason in cases.items():
        fake = FakeWeCom(answers=[{"errcode": code, "errmsg": words[code]}])
        [result] = await run(
            fake,
            channel("wecom_customer", settings),
            settings,
            message(ChannelKind.WECOM_CUSTOMER, "wm1"),
        )
        assert result.status is DeliveryStatus.FAILED, code
        assert result.provider_code == str(code) and result.reason == reason
        assert len(fake.posts) == 1  # permanent: not retried


async def test_a_wrong_secret_fails_at_gettoken(settings) -> None:
    fake = FakeWeCom()
    fake.token_answer = {"errcode": 40001, "errmsg": "invalid credential"}
    [result] = await run(
        fake,
        channel("wecom_customer", settings),
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
    )
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "40001"
    assert "corpsecret is wrong" in (result.reason or "") and fake.posts == []


async def test_a_recipient_in_the_fail_list_fails(settings) -> None:
    fake = FakeWeCom(answers=[{"errcode": 0, "errmsg": "ok", "fail_list": ["wm1"], "msgid": "m"}])
    [result] = await run(
        fake,
        channel("wecom_customer", settings),
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
    )
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "fail_list"


async def test_http_5xx_from_wecom_is_retried(settings) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/gettoken":
            return httpx.Response(200, json={"errcode": 0, "access_token": "T", "expires_in": 7200})
        calls.append(request)
        return httpx.Response(502, text="bad gateway")

    [result] = await run(
        handler,
        channel("wecom_customer", settings),
        settings,
        message(ChannelKind.WECOM_CUSTOMER, "wm1"),
    )
    assert result.status is DeliveryStatus.FAILED and result.provider_code == "502"
    assert len(calls) == 2 and str(calls[0].url).startswith(BASE)
