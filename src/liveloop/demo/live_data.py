"""The demo shop's live sessions: one on air now, one tomorrow evening with its reservations,
two ended ones, entry links for every channel and a starter list of sensitive words.

Built through the live services like a person in the console would, then moved in time
(started 20 minutes ago, ended last week) since the services stamp the present.
"""

from __future__ import annotations

import datetime as dt
import random
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.core.settings import ConfigurationError, get_settings
from liveloop.live import controls as live_controls
from liveloop.live import moderation
from liveloop.live import service as live_service
from liveloop.live.models import EntryChannel, LiveSession, LiveViewer
from liveloop.live.schemas import EntryLinkCreate, LiveSessionCreate
from liveloop.shops.models import Staff
from liveloop.shops.permissions import Role
from liveloop.shops.service import Actor

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
LINEUP_SIZE = 6
RESERVATIONS = 300
CHANNEL_LABELS = {
    EntryChannel.GROUP: "VIP 茶友群",
    EntryChannel.OFFICIAL_ACCOUNT: "公众号推文",
    EntryChannel.VIDEO_CHANNEL: "视频号预告",
    EntryChannel.MALL: "商城首页横幅",
    EntryChannel.KOL: "茶博主小鹿",
    EntryChannel.STAFF: "客服小美的专属链接",
}
WORDS = [("加微信", "block"), ("私聊", "block"), ("代购", "mask"), ("傻", "mask"), ("垃圾", "mask")]


def poster_png(width: int = 640, height: int = 360) -> bytes:
    """A tea-green gradient poster, written as a PNG by hand (no imaging library needed)."""
    rows = bytearray()
    for y in range(height):
        shade = y / height
        pixel = bytes((int(28 + 40 * shade), int(110 - 50 * shade), int(72 - 30 * shade)))
        rows += b"\x00" + pixel * width  # filter type 0, then the row's pixels

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _evening(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(20, 0), SHANGHAI).astimezone(dt.UTC)


async def _create(
    session: AsyncSession,
    actor: Actor,
    *,
    title: str,
    anchor_id: int,
    starts: dt.datetime,
    product_ids: list[int],
    notice: str,
) -> LiveSession:
    return await live_service.create_live_session(
        session=session,
        actor=actor,
        data=LiveSessionCreate(
            title=title,
            anchor_id=anchor_id,
            planned_start=starts,
            planned_end=starts + dt.timedelta(hours=2),
            product_ids=product_ids,
            notice=notice,
        ),
    )


async def _links(
    session: AsyncSession, actor: Actor, live: LiveSession, staff_id: int
) -> list[str]:
    codes = []
    for channel, label in CHANNEL_LABELS.items():
        link = await live_service.create_entry_link(
            session=session,
            actor=actor,
            live_session=live,
            data=EntryLinkCreate(
                channel=channel,
                label=label,
                staff_id=staff_id if channel is EntryChannel.STAFF else None,
            ),
        )
        codes.append(link.code)
    return codes


def configured_media_dir() -> Path | None:
    """Where the running app serves /media from (None when the settings cannot be read)."""
    try:
        return get_settings().resolved_media_dir
    except ConfigurationError:
        return None


async def seed_live(
    *,
    session: AsyncSession,
    actor: Actor,
    staff: Sequence[Staff],
    customer_ids: Sequence[int],
    now: dt.datetime,
    media_dir: Path | Literal["configured"] | None = "configured",
    seed: int = 7,
) -> dict[str, Any]:
    """Create the demo's sessions; returns their ids by role ("live", "tomorrow", "ended").
    The anchor is the staff member with the anchor role; the staff link is the agent's."""
    rng = random.Random(seed)
    if media_dir == "configured":
        media_dir = configured_media_dir()
    by_role = {member.role: member.id for member in staff}
    anchor_id = by_role.get(Role.ANCHOR.value, staff[0].id)
    agent_id = by_role.get(Role.SERVICE_AGENT.value, staff[0].id)
    products = await catalog_service.search_products(
        session=session, shop_id=actor.shop_id, status="on_shelf", per_page=40
    )
    picks = [p.id for p in products.items]
    rng.shuffle(picks)
    today = now.astimezone(SHANGHAI).date()
    await moderation.add_words(session=session, actor=actor, words=WORDS)

    # Two ended sessions in the past weeks, with figures and a few attributed viewers.
    ended = []
    for weeks, title in ((2, "明前龙井品鉴夜"), (1, "岩茶专场 · 大红袍")):
        starts = _evening(today - dt.timedelta(days=7 * weeks))
        live = await _create(
            session,
            actor,
            title=title,
            anchor_id=anchor_id,
            starts=starts,
            product_ids=picks[weeks * 3 : weeks * 3 + LINEUP_SIZE],
            notice="直播间下单享会员价，满 199 包邮。",
        )
        await _links(session, actor, live, agent_id)
        await live_service.start_live_session(session=session, actor=actor, live_session_id=live.id)
        await live_service.end_live_session(session=session, actor=actor, live_session_id=live.id)
        live.started_at = starts + dt.timedelta(minutes=rng.randint(0, 4))
        live.ended_at = starts + dt.timedelta(minutes=rng.randint(110, 135))
        live.peak_viewers = rng.randint(380, 620)
        live.total_viewers = live.peak_viewers * 3 + rng.randint(0, 200)
        live.like_total = rng.randint(20_000, 60_000)
        ended.append(live)
    await _viewers(session, ended[-1], customer_ids, rng)

    # On air now: started 20 minutes ago, a product pushed, an announcement and a pin.
    lineup = picks[:LINEUP_SIZE]
    live = await _create(
        session,
        actor,
        title="秋茶上新 · 今晚福利专场",
        anchor_id=anchor_id,
        starts=now - dt.timedelta(minutes=20),
        product_ids=lineup,
        notice="新客首单立减 20 元；整点抽奖，关注主播不迷路。",
    )
    await _links(session, actor, live, agent_id)
    await live_service.start_live_session(session=session, actor=actor, live_session_id=live.id)
    live.started_at = now - dt.timedelta(minutes=20)
    if media_dir is not None:
        await live_service.set_cover(
            session=session,
            actor=actor,
            live_session_id=live.id,
            content=poster_png(),
            media_dir=media_dir,
        )
    await live_controls.push_product(
        session=session, actor=actor, live_session_id=live.id, product_id=lineup[0]
    )
    await live_controls.set_announcement(
        session=session,
        actor=actor,
        live_session_id=live.id,
        text="20:30 整点抽奖，送紫砂茶具一套！",
    )
    await live_controls.set_pinned(
        session=session,
        actor=actor,
        live_session_id=live.id,
        text="满 199 包邮，下单备注“直播”送试饮装",
    )

    # Tomorrow 20:00 Shanghai, with ~300 reservations spread over its entry links.
    tomorrow = await _create(
        session,
        actor,
        title="周末囤茶节 · 预告",
        anchor_id=anchor_id,
        starts=_evening(today + dt.timedelta(days=1)),
        product_ids=picks[LINEUP_SIZE : LINEUP_SIZE * 2],
        notice="预约直播，开播提醒第一时间送达。",
    )
    codes = await _links(session, actor, tomorrow, agent_id)
    audience = rng.sample(list(customer_ids), min(RESERVATIONS, len(customer_ids)))
    for index, code in enumerate(codes):
        await live_service.bulk_reserve(
            session=session,
            live_session=tomorrow,
            customer_ids=audience[index :: len(codes)],
            source_code=code,
        )
    await session.flush()
    return {"live": live.id, "tomorrow": tomorrow.id, "ended": [s.id for s in ended]}


async def _viewers(
    session: AsyncSession, live: LiveSession, customer_ids: Sequence[int], rng: random.Random
) -> None:
    """Viewers of an ended session, some brought by sharers, so the sharer ranking has rows.
    (Presence writes these rows for real rooms; the demo writes what it would have written.)"""
    if len(customer_ids) < 60:
        return
    people = rng.sample(list(customer_ids), 60)
    sharers = people[:4]
    links = await live_service.list_entry_links(
        session=session, shop_id=live.shop_id, live_session_id=live.id
    )
    assert live.started_at is not None
    for index, customer_id in enumerate(people[4:]):
        entered = live.started_at + dt.timedelta(minutes=rng.randint(0, 90))
        session.add(
            LiveViewer(
                shop_id=live.shop_id,
                live_session_id=live.id,
                viewer_key=f"c:{customer_id}",
                customer_id=customer_id,
                source_code=rng.choice(links).code if links else "",
                referrer_customer_id=sharers[min(index % 7, 3)] if index % 2 == 0 else None,
                first_entered_at=entered,
                last_seen_at=entered + dt.timedelta(minutes=rng.randint(2, 40)),
                watch_seconds=rng.randint(120, 2400),
                comments=rng.randint(0, 6),
                likes=rng.randint(0, 80),
            )
        )
    await session.flush()
