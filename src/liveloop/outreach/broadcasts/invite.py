""" "Invite" on a live session page: a broadcast to the shop's consenting customers with the
session's default words, on the shop's first enabled channel, sent at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped
from liveloop.core.errors import InvalidInput
from liveloop.live.models import LiveSession
from liveloop.outreach.broadcasts import service
from liveloop.outreach.broadcasts.models import Broadcast
from liveloop.outreach.contracts import ChannelKind

# Which channel an invitation prefers when the operator does not pick one.
PREFERENCE = (
    ChannelKind.WECOM_CUSTOMER,
    ChannelKind.EMAIL,
    ChannelKind.SMS,
    ChannelKind.WECOM_GROUP,
    ChannelKind.WEBHOOK,
)

# One text, three layers: members hear about member prices, customers who never bought about
# the newcomer coupon, the others about the line-up.
LAYER_WORDS = (
    "{% if customer.tier %}{{ customer.tier }}会员专享价，积分 {{ customer.points }} 可抵现。"
    "{% elif customer.orders == 0 %}新人首单立减{% if coupon.code %}，券码 {{ coupon.code }}{% endif %}。"
    "{% else %}老朋友回来看看，上新好物等你。{% endif %}"
)
INVITE_TEXT = (
    "{{ customer.name }}，您好！直播「{{ live.title }}」将于 {{ live.starts_at }} 开播，"
    + LAYER_WORDS
    + "点此预约/进入：{{ live.link }}"
)


def default_parts(kind: ChannelKind) -> dict[str, Any]:
    if kind is ChannelKind.EMAIL:
        return {
            "subject": "直播邀请：{{ live.title }}",
            "text": INVITE_TEXT + "\n退订：{{ unsubscribe_url }}",
            "html": (
                "<p>{{ customer.name }}，您好！</p><p>直播「{{ live.title }}」将于 "
                "{{ live.starts_at }} 开播。" + LAYER_WORDS + "</p>"
                '<p><img src="{{ live.poster_url }}" alt="{{ live.title }}" width="300"></p>'
                '<p><a href="{{ live.link }}">进入直播间</a></p>'
                '<p><a href="{{ unsubscribe_url }}">退订</a></p>'
            ),
        }
    if kind in (ChannelKind.WECOM_CUSTOMER, ChannelKind.WECOM_GROUP):
        return {
            "text": INVITE_TEXT,
            "image_url": "{{ live.poster_url }}",
            "link_url": "{{ live.link }}",
            "link_title": "{{ live.title }}",
        }
    return {"text": INVITE_TEXT}


async def pick_channel(*, session: AsyncSession, shop_id: int, channel_id: int | None) -> Any:
    from liveloop.outreach.channels import service as channel_service

    if channel_id is not None:
        return await channel_service.get_channel(
            session=session, shop_id=shop_id, channel_id=channel_id
        )
    channels = [
        c
        for c in await channel_service.list_channels(session=session, shop_id=shop_id)
        if c.enabled
    ]
    for kind in PREFERENCE:
        for channel in channels:
            if channel.kind == kind.value:
                return channel
    raise InvalidInput(
        "the shop has no enabled channel to invite through; add one under Outreach → Channels",
        code="no_channel",
        field="channel_id",
    )


async def invite_to_live(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    channel_id: int | None = None,
    staff_id: int | None = None,
    audience: dict[str, Any] | None = None,
    variants: list[dict[str, Any]] | None = None,
) -> Broadcast:
    live = await get_scoped(
        session, LiveSession, shop_id=shop_id, record_id=live_session_id, label="live session"
    )
    channel = await pick_channel(session=session, shop_id=shop_id, channel_id=channel_id)
    kind = ChannelKind(channel.kind)
    broadcast = await service.create_broadcast(
        session=session,
        shop_id=shop_id,
        staff_id=staff_id,
        data=service.BroadcastIn(
            name=f"邀请：{live.title}"[:120],
            kind=kind,
            channel_id=channel.id,
            live_session_id=live.id,
            audience=audience or {"all": True},
            variants=variants or [{"key": "A", "weight": 100, "parts": default_parts(kind)}],
        ),
    )
    return await service.start_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast.id
    )


async def invite_once(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    channel_id: int | None,
    staff_id: int | None,
    key: str | None,
) -> tuple[Broadcast, bool]:
    """`invite_to_live` behind an Idempotency-Key (the API header, the console's form field):
    a repeat returns the first broadcast and sends nothing. (broadcast, replayed)."""
    from liveloop.commerce.idempotency import claim_key, complete_key
    from liveloop.outreach.broadcasts import tasks

    # One savepoint for the key and the broadcast: a refused invitation leaves neither behind,
    # so the same key can be sent again once the cause is fixed.
    async with session.begin_nested():
        claim = await claim_key(
            session=session, shop_id=shop_id, scope="broadcast:invite", key=key,
            body={"live_session_id": live_session_id, "channel_id": channel_id},
        )  # fmt: skip
        if claim.replay_id is not None:
            replay = await service.get_broadcast(
                session=session, shop_id=shop_id, broadcast_id=claim.replay_id
            )
            return replay, True
        broadcast = await invite_to_live(
            session=session, shop_id=shop_id, live_session_id=live_session_id,
            channel_id=channel_id, staff_id=staff_id,
        )  # fmt: skip
        await complete_key(
            session=session, claim=claim, resource_type="broadcast", resource_id=broadcast.id
        )
    tasks.deliver_after_commit(session, broadcast)
    return broadcast, False
