"""Idempotency-Key on the broadcast POSTs (create, send, invite): a repeat returns the first
result and sends nothing twice; the same key with another request is refused, naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from liveloop.outreach.broadcasts import delivery
from liveloop.outreach.broadcasts import tasks as broadcast_tasks
from liveloop.outreach.broadcasts.models import Broadcast, BroadcastRecipient
from tests.factories.live import make_live_session
from tests.outreach.broadcasts.conftest import (
    RecordingSender,
    make_customers,
    make_webhook_channel,
)

URL = "/api/v1/outreach/broadcasts"
PARTS = {"text": "{{ customer.name }}，今晚直播：{{ live.link }}"}


@pytest.fixture
def enqueued(monkeypatch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Delivery jobs the routes ask for (after commit), recorded instead of run: the test's
    transaction never commits, and a job with its own connection could not see its rows."""
    calls: list[dict[str, Any]] = []

    def record(session: Any, declared: Any, **kwargs: Any) -> None:
        calls.append({"job": declared.name, **kwargs})

    monkeypatch.setattr(broadcast_tasks, "enqueue_after_commit", record)
    return calls


def draft(channel_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "周五上新", "kind": "webhook", "channel_id": channel_id,
        "audience": {"all": True}, "variants": [{"key": "A", "weight": 100, "parts": PARTS}],
        **extra,
    }  # fmt: skip


async def counts(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    broadcasts = await session.scalar(select(func.count()).select_from(Broadcast))
    recipients = await session.scalar(select(func.count()).select_from(BroadcastRecipient))
    return broadcasts, recipients


async def deliver_each(session, shop_id: int, calls, settings) -> RecordingSender:  # type: ignore[no-untyped-def]
    """Run every delivery the routes enqueued, through one provider that keeps each message."""
    sender = RecordingSender()
    for call in calls:
        await delivery.deliver_broadcast(
            session=session, shop_id=shop_id, broadcast_id=call["broadcast_id"], sender=sender,
            settings=settings,
        )  # fmt: skip
    return sender


@pytest.mark.usefixtures("any_hour")
async def test_create_and_send_twice_with_one_key_sends_once(
    client, session, shop, settings, enqueued
) -> None:  # type: ignore[no-untyped-def]
    customers = await make_customers(session, shop.id, 4)
    channel = await make_webhook_channel(session, shop.id)
    headers = {"Idempotency-Key": "create-7f3a"}
    body = draft(channel.id, send=True)
    first = await client.post(URL, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "sending" and first.json()["counts"] == {"queued": 4}
    before = await counts(session)
    again = await client.post(URL, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["counts"] == {"queued": 4}
    assert await counts(session) == before
    assert enqueued == [
        {"job": "liveloop.outreach.broadcasts.tasks.deliver_broadcast", "shop_id": shop.id,
         "broadcast_id": first.json()["id"]}
    ]  # fmt: skip
    sender = await deliver_each(session, shop.id, enqueued, settings)
    assert sorted(m.customer_id for m in sender.messages) == sorted(c.id for c in customers)
    # Asked once more after delivery: still the first broadcast, nothing new is sent.
    late = await client.post(URL, json=body, headers=headers)
    assert late.json()["id"] == first.json()["id"] and late.json()["status"] == "sent"
    assert len(enqueued) == 1


async def test_create_with_the_same_key_and_another_body_is_refused(
    client, session, shop, enqueued
) -> None:  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    headers = {"Idempotency-Key": "create-1"}
    first = await client.post(URL, json=draft(channel.id), headers=headers)
    assert first.status_code == 201 and first.json()["status"] == "draft"
    other = await client.post(URL, json=draft(channel.id, name="换个名字"), headers=headers)
    assert other.status_code == 409, other.text
    error = other.json()
    assert (error["code"], error["field"]) == ("idempotency_mismatch", "Idempotency-Key")
    assert "'create-1'" in error["message"] and "different request" in error["message"]
    assert await counts(session) == (1, 0)
    # Without a key, each POST is a new broadcast; an empty key is refused.
    assert (await client.post(URL, json=draft(channel.id))).json()["id"] != first.json()["id"]
    blank = await client.post(URL, json=draft(channel.id), headers={"Idempotency-Key": " "})
    assert blank.status_code == 422 and blank.json()["code"] == "invalid_idempotency_key"
    assert enqueued == []


@pytest.mark.usefixtures("any_hour")
async def test_send_twice_with_one_key_returns_the_first_and_enqueues_once(
    client, session, shop, settings, enqueued
) -> None:  # type: ignore[no-untyped-def]
    await make_customers(session, shop.id, 3)
    channel = await make_webhook_channel(session, shop.id)
    created = (await client.post(URL, json=draft(channel.id))).json()
    url = f"{URL}/{created['id']}/send"
    headers = {"Idempotency-Key": "send-42"}
    first = await client.post(url, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "sending" and first.json()["counts"] == {"queued": 3}
    again = await client.post(url, headers=headers)
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["counts"]) == (created["id"], {"queued": 3})
    assert await counts(session) == (1, 3)
    assert [call["broadcast_id"] for call in enqueued] == [created["id"]]
    # A repeat without the key is a second send, refused: the broadcast is already sending.
    unkeyed = await client.post(url)
    assert unkeyed.status_code == 409 and unkeyed.json()["code"] == "broadcast_already_sent"
    sender = await deliver_each(session, shop.id, enqueued, settings)
    assert len(sender.messages) == 3 and len(set(sender.keys())) == 3


@pytest.mark.usefixtures("any_hour")
async def test_invite_twice_with_one_key_is_one_broadcast(
    client, session, shop, settings, enqueued
) -> None:  # type: ignore[no-untyped-def]
    customers = await make_customers(session, shop.id, 2)
    await make_webhook_channel(session, shop.id)
    live = await make_live_session(session, shop_id=shop.id, title="双十二预热")
    other_live = await make_live_session(session, shop_id=shop.id, title="周末专场")
    headers = {"Idempotency-Key": "invite-9"}
    first = await client.post(f"{URL}/invite", json={"live_session_id": live.id}, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["live_session_id"] == live.id and first.json()["status"] == "sending"
    again = await client.post(f"{URL}/invite", json={"live_session_id": live.id}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert await counts(session) == (1, 2)
    # The same key for another session's invitation is another request: refused.
    other = await client.post(
        f"{URL}/invite", json={"live_session_id": other_live.id}, headers=headers
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_mismatch"
    assert await counts(session) == (1, 2)
    assert [call["broadcast_id"] for call in enqueued] == [first.json()["id"]]
    # The invitation is delivered once per customer, with the session's title in the words.
    sender = await deliver_each(session, shop.id, enqueued, settings)
    assert sorted(m.customer_id for m in sender.messages) == sorted(c.id for c in customers)
    assert all("双十二预热" in m.content.text for m in sender.messages)


async def test_a_key_is_the_shops_own(client, session, shop, other_shop, enqueued) -> None:  # type: ignore[no-untyped-def]
    from liveloop.commerce.idempotency import claim_key

    # Another shop used the same key first: this shop's request is still its own.
    await claim_key(
        session=session, shop_id=other_shop.id, scope="broadcast:create", key="shared-key",
        body={"anything": 1},
    )  # fmt: skip
    channel = await make_webhook_channel(session, shop.id)
    response = await client.post(
        URL, json=draft(channel.id), headers={"Idempotency-Key": "shared-key"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "周五上新"
