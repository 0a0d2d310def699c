"""The API, the console page, and the public unsubscribe page (no login, zh_CN and en, a link
that cannot be forged)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.security import TokenSigner
from liveloop.customers import service as customers_service
from liveloop.outreach.consent import service as consent_service
from liveloop.outreach.contracts import ChannelKind
from tests import factories


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def _customer(session: AsyncSession, shop_id: int) -> int:
    customer = await factories.make_customer(session, shop_id=shop_id, name="王芳")
    customer.consent = {"email": True, "sms": True}
    await session.flush()
    return customer.id


async def test_unsubscribe_in_chinese_without_login(
    session: AsyncSession,
    shop,
    settings,
    anon_client: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    customer_id = await _customer(session, shop.id)
    url = consent_service.unsubscribe_url(
        settings=settings, shop_id=shop.id, customer_id=customer_id, channel_key="email"
    )
    assert url.startswith(settings.public_base_url + "/u/")
    page = await anon_client.get(_path(url), headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert page.status_code == 200
    assert 'data-state="ask"' in page.text
    assert "不再接收 茶语小铺 通过邮箱发送的营销消息？" in page.text
    assert page.headers["content-language"] == "zh-CN"
    # Opening the link (a mail scanner) changes nothing.
    decisions = await consent_service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[customer_id],
        now=_noon(),
    )  # fmt: skip
    assert decisions[customer_id].reason is None

    done = await anon_client.post(_path(url), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'data-state="done"' in done.text
    assert "您已退订" in done.text
    customer = await customers_service.get_customer(
        session=session, shop_id=shop.id, customer_id=customer_id
    )
    assert customer.consent == {"email": False, "sms": True}
    rows, total = await consent_service.list_blocks(session=session, shop_id=shop.id)
    assert total == 1 and (rows[0].block.reason, rows[0].block.channel_key) == (
        "unsubscribed", "email",
    )  # fmt: skip
    decisions = await consent_service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.EMAIL, customer_ids=[customer_id],
        now=_noon(),
    )  # fmt: skip
    assert decisions[customer_id].reason == "do_not_contact:unsubscribed"
    # SMS is untouched; unsubscribing twice is harmless.
    sms = await consent_service.screen_recipients(
        session=session, shop_id=shop.id, kind=ChannelKind.SMS, customer_ids=[customer_id],
        now=_noon(),
    )  # fmt: skip
    assert sms[customer_id].reason is None
    again = await anon_client.post(_path(url))
    assert again.status_code == 200
    assert (await consent_service.list_blocks(session=session, shop_id=shop.id))[1] == 1
    revisit = await anon_client.get(_path(url))
    assert 'data-state="done"' in revisit.text


async def test_unsubscribe_in_english(
    session: AsyncSession,
    shop,
    settings,
    anon_client: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    customer_id = await _customer(session, shop.id)
    url = consent_service.unsubscribe_url(
        settings=settings, shop_id=shop.id, customer_id=customer_id, channel_key="*"
    )
    page = await anon_client.get(_path(url) + "?lang=en")
    assert page.status_code == 200
    assert f"Stop marketing messages from {shop.name} by All channels?" in page.text
    assert page.headers["content-language"] == "en"
    form_action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert form_action is not None
    done = await anon_client.post(form_action.group(1).replace("&amp;", "&"))
    assert "You are unsubscribed" in done.text
    customer = await customers_service.get_customer(
        session=session, shop_id=shop.id, customer_id=customer_id
    )
    assert customer.consent == {"email": False, "sms": False, "wecom": False, "webhook": False}


async def test_forged_or_altered_links_are_refused(
    session: AsyncSession,
    shop,
    other_shop,
    settings,
    anon_client: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    victim = await _customer(session, shop.id)
    mine = await _customer(session, other_shop.id)
    good = consent_service.unsubscribe_token(
        settings=settings, shop_id=other_shop.id, customer_id=mine, channel_key="email"
    )
    payload, stamp, signature = good.split(".")
    forged_with_other_key = TokenSigner("not-the-site-secret", salt="outreach-unsubscribe").sign(
        [shop.id, victim, "email"]
    )
    # The payload of someone else's link under my link's signature.
    other_payload = consent_service.unsubscribe_token(
        settings=settings, shop_id=shop.id, customer_id=victim, channel_key="email"
    ).split(".")[0]
    # The first character: the last one of unpadded base64 carries spare bits, and changing
    # it may decode to the same signature (a test that failed now and then).
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for token in (
        forged_with_other_key,
        f"{other_payload}.{stamp}.{signature}",
        f"{payload}.{stamp}.{flipped}",
        good[:-3],
        "nonsense",
    ):
        for method in ("GET", "POST"):
            response = await anon_client.request(method, f"/u/{token}?lang=en")
            assert response.status_code == 404, (method, token)
            assert "This link is not valid" in response.text
    assert (await consent_service.list_blocks(session=session, shop_id=shop.id))[1] == 0
    victim_row = await customers_service.get_customer(
        session=session, shop_id=shop.id, customer_id=victim
    )
    assert victim_row.consent["email"] is True


async def test_api_policy_blocks_and_screen(
    session: AsyncSession,
    shop,
    other_shop,
    client: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    policy = await client.get("/api/v1/outreach/consent/policy")
    assert policy.status_code == 200
    assert policy.json()["caps"] == {"*": {"count": 2, "days": 7}}
    assert policy.json()["saved"] is False
    saved = await client.put(
        "/api/v1/outreach/consent/policy",
        json={"caps": {"sms": {"count": 1, "days": 7}}, "quiet_start": "21:30"},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["caps"] == {"sms": {"count": 1, "days": 7}}
    assert (saved.json()["quiet_start"], saved.json()["quiet_end"]) == ("21:30", "08:00")
    bad = await client.put("/api/v1/outreach/consent/policy", json={"quiet_end": "8am"})
    assert bad.status_code == 422 and bad.json()["field"] == "quiet_end"
    bad = await client.put("/api/v1/outreach/consent/policy", json={"caps": {"fax": {}}})
    assert bad.status_code == 422 and bad.json()["field"].startswith("caps")
    bad = await client.put("/api/v1/outreach/consent/policy", json={"quiet_start": None})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_quiet_hours"

    customer_id = await _customer(session, shop.id)
    foreign = await _customer(session, other_shop.id)
    created = await client.post(
        "/api/v1/outreach/consent/blocks",
        json={"customer_id": customer_id, "channel_key": "sms", "reason": "complaint"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["reason"] == "complaint"
    missing = await client.post("/api/v1/outreach/consent/blocks", json={"customer_id": foreign})
    assert missing.status_code == 404
    wrong = await client.post(
        "/api/v1/outreach/consent/blocks", json={"customer_id": customer_id, "reason": "bored"}
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "reason"
    listed = await client.get("/api/v1/outreach/consent/blocks?reason=complaint")
    assert listed.json()["total"] == 1
    assert listed.json()["items"][0]["customer_name"] == "王芳"

    screened = await client.post(
        "/api/v1/outreach/consent/screen",
        json={"kind": "sms", "customer_ids": [customer_id, foreign],
              "at": "2026-12-07T10:00:00+08:00"},
    )  # fmt: skip
    assert screened.status_code == 200
    assert {d["customer_id"]: d["reason"] for d in screened.json()} == {
        customer_id: "do_not_contact:complaint",
        foreign: "unknown_customer",
    }
    block_id = created.json()["id"]
    assert (await client.delete(f"/api/v1/outreach/consent/blocks/{block_id}")).status_code == 204
    assert (await client.delete(f"/api/v1/outreach/consent/blocks/{block_id}")).status_code == 404


async def test_other_shops_block_is_not_found(session: AsyncSession, other_shop, client) -> None:  # type: ignore[no-untyped-def]
    from tests.outreach.consent.conftest import make_consent_records

    records = await make_consent_records(session, shop_id=other_shop.id)
    response = await client.delete(f"/api/v1/outreach/consent/blocks/{records['contact_block_id']}")
    assert response.status_code == 404


async def test_console_page_policy_and_blocks(session: AsyncSession, shop, console) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import post_form

    page = await console.get("/console/outreach/consent")
    assert page.status_code == 200 and 'id="policy-form"' in page.text
    assert "免打扰名单为空。" in page.text
    saved = await post_form(
        console, "/console/outreach/consent/policy",
        {"cap_count_*": "3", "cap_days_*": "7", "cap_count_sms": "1", "cap_days_sms": "30",
         "quiet_start": "22:30", "quiet_end": "07:30", "reminders_enabled": "1",
         "reminder_early_minutes": "10"},
    )  # fmt: skip
    assert saved.status_code == 303
    policy = await consent_service.get_policy(session=session, shop_id=shop.id)
    assert policy.caps == {"*": {"count": 3, "days": 7}, "sms": {"count": 1, "days": 30}}
    assert (policy.quiet_start, policy.quiet_end, policy.reminder_early_minutes) == (
        "22:30", "07:30", 10,
    )  # fmt: skip
    bad = await post_form(
        console, "/console/outreach/consent/policy", {"quiet_start": "22:00", "quiet_end": ""}
    )
    assert bad.status_code == 422 and 'id="policy-error"' in bad.text

    customer_id = await _customer(session, shop.id)
    added = await post_form(
        console, "/console/outreach/consent/blocks",
        {"customer_id": str(customer_id), "channel_key": "email", "reason": "bounced",
         "note": "mailbox full"},
    )  # fmt: skip
    assert added.status_code == 303
    page = await console.get("/console/outreach/consent")
    assert f'data-customer="{customer_id}"' in page.text and "退信" in page.text
    bad = await post_form(console, "/console/outreach/consent/blocks", {"customer_id": "x"})
    assert bad.status_code == 422 and 'id="block-error"' in bad.text
    rows, _ = await consent_service.list_blocks(session=session, shop_id=shop.id)
    removed = await post_form(
        console, f"/console/outreach/consent/blocks/{rows[0].block.id}/delete"
    )
    assert removed.status_code == 303
    assert (await consent_service.list_blocks(session=session, shop_id=shop.id))[1] == 0


def _noon():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


async def test_console_cannot_remove_another_shops_block(
    session: AsyncSession, other_shop, console
) -> None:  # type: ignore[no-untyped-def]
    from tests.outreach.consent.conftest import make_consent_records
    from tests.web.conftest import post_form

    records = await make_consent_records(session, shop_id=other_shop.id)
    block_id = records["contact_block_id"]
    response = await post_form(console, f"/console/outreach/consent/blocks/{block_id}/delete")
    assert response.status_code == 404
    assert (await consent_service.list_blocks(session=session, shop_id=other_shop.id))[1] == 1
