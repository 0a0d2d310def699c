"""Broadcast preparation, delivery (crash and resume), clicks and results."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.core.errors import InvalidInput
from liveloop.outreach.broadcasts import delivery, results, service
from liveloop.outreach.broadcasts.models import BroadcastRecipient
from liveloop.outreach.contracts import ChannelKind
from tests.outreach.broadcasts.conftest import (
    Crash,
    RecordingSender,
    make_customers,
    make_webhook_channel,
)

PARTS = {"text": "{{ customer.name }} 来看直播 {{ live.link }}"}
NOON = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai, outside quiet hours


async def _broadcast(session, shop, **extra):  # type: ignore[no-untyped-def]
    channel = await make_webhook_channel(session, shop.id)
    data = service.BroadcastIn(
        name="周五邀请", kind=ChannelKind.WEBHOOK, channel_id=channel.id,
        audience={"all": True}, variants=[{"key": "A", "weight": 100, "parts": PARTS}], **extra,
    )  # fmt: skip
    return await service.create_broadcast(session=session, shop_id=shop.id, data=data)


async def _statuses(session, broadcast_id):  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(BroadcastRecipient.customer_id, BroadcastRecipient.status).where(
            BroadcastRecipient.broadcast_id == broadcast_id
        )
    )
    return dict(rows.all())


async def test_empty_audience_is_refused_before_sending(session, shop) -> None:  # type: ignore[no-untyped-def]
    broadcast = await _broadcast(session, shop)
    with pytest.raises(InvalidInput) as error:
        await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    assert error.value.code == "empty_audience"
    assert await _statuses(session, broadcast.id) == {}


async def test_no_consenting_recipients_is_refused(session, shop) -> None:  # type: ignore[no-untyped-def]
    await make_customers(session, shop.id, 3, consent=False)
    broadcast = await _broadcast(session, shop)
    with pytest.raises(InvalidInput) as error:
        await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    assert error.value.code == "no_consenting_recipients"
    assert "3 no_consent" in error.value.message


@pytest.mark.usefixtures("any_hour")
async def test_crash_and_resume_sends_each_recipient_once(session, shop, settings) -> None:  # type: ignore[no-untyped-def]
    customers = await make_customers(session, shop.id, 7)
    broadcast = await _broadcast(session, shop)
    await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    shop_id, broadcast_id, customer_ids = shop.id, broadcast.id, [c.id for c in customers]
    first = RecordingSender(crash_after=5)
    with pytest.raises(Crash):
        await delivery.deliver_broadcast(
            session=session, shop_id=shop.id, broadcast_id=broadcast.id, sender=first,
            settings=settings, batch_size=3,
        )  # fmt: skip
    await session.rollback()  # the dead worker's open transaction is gone
    assert len(first.messages) == 5  # 3 recorded in batch 1, 2 sent but unrecorded in batch 2
    # Before the lease runs out nothing is re-sent; after it, the stalled batch is resumed.
    second = RecordingSender()
    later = dt.datetime.now(dt.UTC) + delivery.LEASE + dt.timedelta(seconds=1)
    sent = await delivery.deliver_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=second,
        settings=settings, now=later,
    )  # fmt: skip
    assert sent == 4
    keys = first.keys() + second.keys()
    # The two re-sent messages carry the same keys: a provider sees 7 distinct messages.
    assert len(set(keys)) == 7 and len(keys) == 9
    assert set(first.keys()[:3]).isdisjoint(second.keys())
    statuses = await _statuses(session, broadcast_id)
    assert statuses == {cid: "delivered" for cid in customer_ids}
    reloaded = await service.get_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id
    )
    assert reloaded.status == "sent"
    # A second run sends nothing more.
    third = RecordingSender()
    assert await delivery.deliver_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=third,
        settings=settings, now=later,
    ) == 0  # fmt: skip
    assert third.messages == []


@pytest.mark.usefixtures("any_hour")
async def test_click_redirects_with_attribution(session, shop, settings, sender) -> None:  # type: ignore[no-untyped-def]
    await make_customers(session, shop.id, 2)
    broadcast = await _broadcast(session, shop)
    await service.start_broadcast(session=session, shop_id=shop.id, broadcast_id=broadcast.id)
    await delivery.deliver_broadcast(
        session=session,
        shop_id=shop.id,
        broadcast_id=broadcast.id,
        sender=sender,
        settings=settings,
    )
    recipient = (
        await session.execute(
            select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast.id)
            .order_by(BroadcastRecipient.id).limit(1)
        )
    ).scalar_one()  # fmt: skip
    secret = settings.resolved_secret_key()
    token = results.click_token(secret, recipient.id)
    assert recipient.click_token is None  # nothing stored: the link is the signed id
    assert f"/r/{token}" in sender.messages[0].content.text
    target = await results.record_click(session=session, secret=secret, token=token)
    assert target == f"/mall/{shop.id}?src=bc-{broadcast.id}-{recipient.id}"
    figures = await results.broadcast_results(session=session, broadcast=broadcast)
    (variant,) = figures["variants"]
    assert (variant["variant"], variant["reached"], variant["clicked"]) == ("A", 2, 1)
    assert variant["clicked_rate"]["rate"] == 0.5
    forged = f"{recipient.id + 1}.{token.partition('.')[2]}"  # another id, this id's signature
    for bad in ("nope", forged, token[:-1], f"{recipient.id}.", "x" * 41, "12.AAAAAAAAAAAA"):
        assert await results.record_click(session=session, secret=secret, token=bad) is None
    other_secret = results.click_token("another install's secret", recipient.id)
    assert await results.record_click(session=session, secret=secret, token=other_secret) is None


async def test_a_link_sent_before_signed_tokens_still_redirects(session, shop, settings) -> None:  # type: ignore[no-untyped-def]
    """Rows enqueued before migration 0026 carry a stored random token, and the messages that
    were sent with it must keep working: delivery uses it, and a click finds its recipient."""
    await make_customers(session, shop.id, 1)
    broadcast = await _broadcast(session, shop)
    await service.start_broadcast(
        session=session, shop_id=shop.id, broadcast_id=broadcast.id, now=NOON
    )
    recipient = (
        await session.execute(
            select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast.id)
        )
    ).scalar_one()
    recipient.click_token = "Legacy_Tok-123456"
    await session.flush()
    sender = RecordingSender()
    await delivery.deliver_broadcast(
        session=session, shop_id=shop.id, broadcast_id=broadcast.id, sender=sender,
        settings=settings, now=NOON,
    )  # fmt: skip
    assert "/r/Legacy_Tok-123456" in sender.messages[0].content.text
    target = await results.record_click(
        session=session, secret=settings.resolved_secret_key(), token="Legacy_Tok-123456"
    )
    assert target == f"/mall/{shop.id}?src=bc-{broadcast.id}-{recipient.id}"


async def test_enqueued_times_read_back_exactly_and_hold_until_morning(
    session, shop, settings
) -> None:  # type: ignore[no-untyped-def]
    """Recipient rows go in through the driver's executemany; their times must read back as the
    ORM writes them, and a quiet-hours send_at must hold delivery until it has passed."""
    shop.timezone = "Asia/Shanghai"
    await make_customers(session, shop.id, 3)
    broadcast = await _broadcast(session, shop)
    night = dt.datetime(2026, 12, 7, 15, 0, 0, 123456, tzinfo=dt.UTC)  # 23:00 in Shanghai
    morning = dt.datetime(2026, 12, 8, 0, 0, tzinfo=dt.UTC)  # 08:00 in Shanghai
    shop_id, broadcast_id = shop.id, broadcast.id
    await service.start_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id, now=night
    )
    session.expire_all()
    rows = (
        await session.scalars(
            select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast_id)
        )
    ).all()
    assert [(r.status, r.send_at, r.queued_at) for r in rows] == [("queued", morning, night)] * 3
    assert {r.click_token for r in rows} == {None}  # links are signed ids, made at delivery
    early = RecordingSender()
    sent = await delivery.deliver_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=early,
        settings=settings, now=morning - dt.timedelta(seconds=1),
    )  # fmt: skip
    assert sent == 0 and early.messages == []
    on_time = RecordingSender()
    sent = await delivery.deliver_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=on_time,
        settings=settings, now=morning,
    )  # fmt: skip
    assert sent == 3


async def test_inline_words_are_checked_like_a_saved_template(session, shop) -> None:  # type: ignore[no-untyped-def]
    """A misspelt variable in a variant's inline words is refused when the broadcast is made,
    naming the variant, the part and the line, instead of failing every send later."""
    channel = await make_webhook_channel(session, shop.id)
    data = service.BroadcastIn(
        name="周五邀请", kind=ChannelKind.WEBHOOK, channel_id=channel.id, audience={"all": True},
        variants=[
            {"key": "A", "weight": 50, "parts": PARTS},
            {"key": "B", "weight": 50, "parts": {"text": "你好\n{{ customer.nmae }}"}},
        ],
    )  # fmt: skip
    with pytest.raises(InvalidInput) as error:
        await service.create_broadcast(session=session, shop_id=shop.id, data=data)
    assert error.value.field is not None and error.value.field.startswith("variants.1.parts")
    assert "line 2" in error.value.message and "customer.nmae" in error.value.message
