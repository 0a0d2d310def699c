"""The demo shop's outreach: an e-mail channel that writes to a local mailbox file (clearly
named as such: nothing is sent), saved templates, a broadcast inviting three layers of
customers to tomorrow's session (high-value customers get member prices, newcomers the
newcomer coupon, repeat buyers the line-up), and a reminder run 15 minutes before it starts.

The mailbox is `<var_dir>/mail/outbox.mbox`; open it with any mail reader (or `mutt -f`).
Delivery is planned and run as of 12:00 shop time today, so the demo's mail does not wait for
the end of quiet hours when it is seeded at night.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.settings import Settings
from liveloop.customers.models import Tag
from liveloop.live.models import LiveSession
from liveloop.outreach.broadcasts import delivery
from liveloop.outreach.broadcasts import service as broadcasts
from liveloop.outreach.broadcasts.invite import LAYER_WORDS
from liveloop.outreach.channels import service as channels
from liveloop.outreach.channels.email import mailbox_path
from liveloop.outreach.consent import reminders
from liveloop.outreach.consent import service as consent
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import service as messages
from liveloop.shops.models import Shop

MAILBOX_CHANNEL = "演示邮箱（写入本地文件 outbox.mbox，不真实发送）"
LAYERS = (  # variant key, tag, the words for it
    ("vip", "高价值", "{{ customer.name }}，会员专享：明晚「{{ live.title }}」会员价提前看，积分 "
     "{{ customer.points }} 可抵现。"),
    ("newcomer", "新客", "{{ customer.name }}，新人福利：明晚「{{ live.title }}」首单立减，券码 "
     "{{ coupon.code }}。"),
    ("repeat", "复购客", "{{ customer.name }}，老朋友好：明晚「{{ live.title }}」上新，您常买的都在。"),
)  # fmt: skip
EMAIL_TAIL = (
    "\n{{ live.starts_at }} 开播，点此预约：{{ live.link }}\n海报：{{ live.poster_url }}\n"
    "退订：{{ unsubscribe_url }}"
)


@dataclass(frozen=True)
class OutreachReport:
    broadcast_id: int
    sent: int
    reminders: int
    mailbox: str


def _parts(words: str) -> dict[str, Any]:
    return {
        "subject": "直播邀请：{{ live.title }}",
        "text": words + EMAIL_TAIL,
        "html": (
            f"<p>{words}</p>"
            '<p><img src="{{ live.poster_url }}" alt="{{ live.title }}" width="300"></p>'
            '<p><a href="{{ live.link }}">{{ live.starts_at }} 开播，点此预约</a></p>'
            '<p><a href="{{ unsubscribe_url }}">退订</a></p>'
        ),
    }


def _noon(shop: Shop) -> dt.datetime:
    zone = ZoneInfo(shop.timezone or "Asia/Shanghai")
    return dt.datetime.now(zone).replace(hour=12, minute=0, second=0, microsecond=0)


async def seed_outreach(
    session: AsyncSession, *, shop_id: int, rooms: dict[str, Any], settings: Settings
) -> int:
    """Channel, templates and the three-layer broadcast, planned (nothing sent yet): its id."""
    shop = await session.get(Shop, shop_id)
    assert shop is not None
    await consent.save_policy(
        session=session, shop_id=shop_id,
        data={"reminders_enabled": True, "reminder_early_minutes": 15},
    )  # fmt: skip
    channel = await channels.create_channel(
        session=session, shop_id=shop_id, kind=ChannelKind.EMAIL.value, name=MAILBOX_CHANNEL,
        config={"transport": "mailbox", "from_addr": "shop@demo.liveloop.local",
                "from_name": shop.name},
        rate_per_second=200, settings=settings,
    )  # fmt: skip
    await messages.create_template(
        session=session, shop_id=shop_id,
        data=messages.TemplateIn(
            name="直播邀请（分层话术）", kind=ChannelKind.EMAIL, purpose=messages.Purpose.INVITE,
            parts=_parts("{{ customer.name }}，您好！明晚「{{ live.title }}」开播。" + LAYER_WORDS),
        ),
    )  # fmt: skip
    await messages.create_template(
        session=session, shop_id=shop_id,
        data=messages.TemplateIn(
            name="开播前 15 分钟提醒", kind=ChannelKind.EMAIL,
            purpose=messages.Purpose.REMINDER_BEFORE, marketing=False,
            parts={"subject": "{{ live.title }} 即将开播",
                   "text": "{{ customer.name }}，您预约的「{{ live.title }}」{{ reminder.text }}："
                           "{{ live.link }}"},
        ),
    )  # fmt: skip
    tags = dict(
        (
            await session.execute(
                select(Tag.name, Tag.id).where(
                    Tag.shop_id == shop_id, Tag.name.in_([tag for _k, tag, _w in LAYERS])
                )
            )
        ).all()
    )
    variants = [
        {"key": key, "weight": 100, "parts": _parts(words), "audience": {"tags_any": [tags[tag]]}}
        for key, tag, words in LAYERS
        if tag in tags
    ]
    broadcast = await broadcasts.create_broadcast(
        session=session, shop_id=shop_id,
        data=broadcasts.BroadcastIn(
            name="明晚开播 · 三层邀请", kind=ChannelKind.EMAIL, channel_id=channel.id,
            live_session_id=rooms["tomorrow"], coupon_code="NEW20",
            audience={"tags_any": sorted(tags.values())}, variants=variants,
        ),
    )  # fmt: skip
    await broadcasts.start_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast.id, now=_noon(shop)
    )
    return broadcast.id


async def send_outreach(
    session: AsyncSession, *, shop_id: int, broadcast_id: int, settings: Settings
) -> OutreachReport:
    """Deliver the invitation and run the reminders, after the seed has been committed
    (delivery commits per batch, as the background job does)."""
    shop = await session.get(Shop, shop_id)
    broadcast = await broadcasts.get_broadcast(
        session=session, shop_id=shop_id, broadcast_id=broadcast_id
    )
    assert shop is not None and broadcast.channel_id is not None
    channel = await channels.get_channel(
        session=session, shop_id=shop_id, channel_id=broadcast.channel_id
    )
    sender = channels.open_sender(channel, settings=settings)
    try:
        sent = await delivery.deliver_broadcast(
            session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=sender,
            settings=settings, now=_noon(shop),
        )  # fmt: skip
    finally:
        await sender.aclose()
    tomorrow = await session.get(LiveSession, broadcast.live_session_id)
    assert tomorrow is not None
    reminded = await reminders.run_reminders(
        session=session, shop_id=shop_id, settings=settings,
        now=tomorrow.planned_start - dt.timedelta(minutes=10),
    )  # fmt: skip
    return OutreachReport(
        broadcast_id=broadcast_id,
        sent=sent,
        reminders=reminded,
        mailbox=str(mailbox_path(settings.var_dir)),
    )
