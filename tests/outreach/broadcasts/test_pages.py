"""Console pages of outreach: Invite from a live session (once, even on a second click), the
broadcast's per-recipient status and cancel, channels and message templates."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from liveloop.outreach.broadcasts.models import Broadcast, BroadcastRecipient
from tests.factories.live import make_live_session
from tests.outreach.broadcasts.conftest import make_customers, make_webhook_channel
from tests.web.conftest import log_in, post_form


@pytest.fixture
async def console(anon_client, owner) -> Any:  # type: ignore[no-untyped-def]
    anon_client.csrf = await log_in(anon_client, owner.email)  # type: ignore[attr-defined]
    yield anon_client


async def test_invite_once_then_see_each_recipient(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id, title="周五上新")
    channel = await make_webhook_channel(session, shop.id)
    customers = await make_customers(session, shop.id, 3)
    await session.commit()

    edit = await console.get(f"/console/live/{live.id}/edit")
    assert f"/console/outreach/invite-panel?live_session_id={live.id}" in edit.text
    panel = await console.get("/console/outreach/invite-panel", params={"live_session_id": live.id})
    assert panel.status_code == 200 and 'id="invite-button"' in panel.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', panel.text).group(1)  # type: ignore[union-attr]

    form = {"live_session_id": str(live.id), "channel_id": str(channel.id), "idempotency_key": key}
    first = await post_form(console, "/console/outreach/invite", form)
    second = await post_form(console, "/console/outreach/invite", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    count = await session.scalar(
        select(func.count()).select_from(Broadcast).where(Broadcast.live_session_id == live.id)
    )
    assert count == 1

    page = await console.get(first.headers["location"])
    assert page.status_code == 200
    rows = re.findall(r'<tr data-customer="(\d+)" data-status="(\w+)"', page.text)
    assert sorted(int(cid) for cid, _status in rows) == sorted(c.id for c in customers)
    assert {status for _cid, status in rows} <= {"queued", "sending", "sent", "delivered", "failed"}

    broadcast_id = int(first.headers["location"].rsplit("/", 1)[1])
    listing = await console.get("/console/outreach")
    assert f'data-id="{broadcast_id}"' in listing.text


async def test_invite_without_channel_says_what_to_do(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    live = await make_live_session(session, shop_id=shop.id)
    await session.commit()
    panel = await console.get("/console/outreach/invite-panel", params={"live_session_id": live.id})
    assert 'href="/console/outreach/channels"' in panel.text and "invite-button" not in panel.text
    sent = await post_form(
        console,
        "/console/outreach/invite",
        {"live_session_id": str(live.id), "idempotency_key": "k1"},
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/console/live/{live.id}/edit"
    page = await console.get(sent.headers["location"])
    assert "Outreach → Channels" in page.text  # the flashed reason


async def test_cancel_stops_what_is_queued(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    from liveloop.outreach.broadcasts import service
    from liveloop.outreach.contracts import ChannelKind

    await make_customers(session, shop.id, 2)
    broadcast = await service.create_broadcast(
        session=session, shop_id=shop.id,
        data=service.BroadcastIn(
            name="取消我", kind=ChannelKind.WEBHOOK, audience={"all": True},
            variants=[{"key": "A", "weight": 100, "parts": {"text": "hi"}}],
        ),
    )  # fmt: skip
    await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    await session.commit()
    done = await post_form(console, f"/console/outreach/broadcasts/{broadcast.id}/cancel")
    assert done.status_code == 303
    page = await console.get(f"/console/outreach/broadcasts/{broadcast.id}")
    assert 'id="broadcast-status" data-status="cancelled"' in page.text
    statuses = (
        await session.execute(
            select(BroadcastRecipient.status).where(BroadcastRecipient.broadcast_id == broadcast.id)
        )
    ).scalars()
    assert "queued" not in set(statuses)


async def test_channels_and_templates_pages(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    bad = await post_form(
        console, "/console/outreach/channels",
        {"kind": "webhook", "name": "回调", "config": "{not json", "secret": '{"signing_secret": "s3cr3t-value"}'},
    )  # fmt: skip
    assert bad.status_code == 422 and 'id="channel-error"' in bad.text
    assert "s3cr3t-value" not in bad.text  # the secret is never drawn back
    made = await post_form(
        console, "/console/outreach/channels",
        {
            "kind": "webhook", "name": "回调", "config": '{"url": "http://127.0.0.1:9/hook"}',
            "secret": '{"signing_secret": "s3cr3t-value"}',
        },
    )  # fmt: skip
    assert made.status_code == 303, re.findall(r'channel-error">([^<]*)', made.text)
    channels = (await console.get("/console/outreach/channels")).text
    assert "回调" in channels and "s3cr3t-value" not in channels

    broken = await post_form(
        console, "/console/outreach/templates",
        {"name": "短信", "kind": "sms", "text": "你好\n{{ customer.nmae }}", "action": "save"},
    )  # fmt: skip
    assert broken.status_code == 422
    assert "line 2" in broken.text and "customer.nmae" in broken.text
    await make_customers(session, shop.id, 1)
    await session.commit()
    preview = await post_form(
        console, "/console/outreach/templates",
        {"name": "短信", "kind": "sms", "text": "你好 {{ customer.name }}", "action": "preview"},
    )  # fmt: skip
    assert preview.status_code == 200 and "你好 顾客0" in preview.text
    saved = await post_form(
        console, "/console/outreach/templates",
        {"name": "短信", "kind": "sms", "text": "你好 {{ customer.name }}", "action": "save"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert "短信" in (await console.get("/console/outreach/templates")).text


async def test_refused_invite_leaves_its_key_free(session, shop, console) -> None:  # type: ignore[no-untyped-def]
    """A refused invitation (nobody consents yet) keeps neither a broadcast nor its key: the
    same form, sent again after the cause is fixed, invites instead of answering "in progress"."""
    live = await make_live_session(session, shop_id=shop.id, title="周五上新")
    channel = await make_webhook_channel(session, shop.id)
    await make_customers(session, shop.id, 2, consent=False)
    await session.commit()
    panel = await console.get("/console/outreach/invite-panel", params={"live_session_id": live.id})
    key = re.search(r'name="idempotency_key" value="([^"]+)"', panel.text).group(1)  # type: ignore[union-attr]
    form = {"live_session_id": str(live.id), "channel_id": str(channel.id), "idempotency_key": key}
    refused = await post_form(console, "/console/outreach/invite", form)
    assert refused.headers["location"] == f"/console/live/{live.id}/edit"
    assert "2 no_consent" in (await console.get(refused.headers["location"])).text
    await make_customers(session, shop.id, 1)
    await session.commit()
    sent = await post_form(console, "/console/outreach/invite", form)
    assert sent.headers["location"].startswith("/console/outreach/broadcasts/"), sent.text
    count = await session.scalar(
        select(func.count()).select_from(Broadcast).where(Broadcast.live_session_id == live.id)
    )
    assert count == 1
