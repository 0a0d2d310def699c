"""The demo's finished sessions get what their room would have recorded — visits, comments,
likes, product clicks — and then their post-live reports, as if each had just ended.

Called by the seed after orders, tiers, communities and lifecycle stages exist (the report's
users section reads them)::

    from liveloop.demo.reports_demo import seed_live_reports
    await seed_live_reports(session=session, shop_id=shop.id, rooms=rooms,
                            customer_ids=[*ids.values()], seed=seed)
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics import service as analytics_service
from liveloop.commerce.models import Order
from liveloop.events import service as events_service
from liveloop.events.service import MAX_BATCH
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession, LiveSessionProduct, LiveViewer

GUESTS_PER_SESSION = 90
CUSTOMERS_PER_SESSION = 220
COMMENTS = [
    "主播好！", "这个龙井多少钱？", "上链接", "已下单", "有优惠券吗", "包邮吗？", "好喝！回购了",
    "能冷泡吗", "大红袍还有货吗", "求讲讲怎么泡", "茶具好看", "已拍两盒", "新客有福利吗",
]  # fmt: skip


@dataclass
class ReportsSeed:
    """What the seed added: each ended session's UV (as its report counts them) and events."""

    viewers: dict[int, int] = field(default_factory=dict)
    events: int = 0


def _item(kind: str, at: dt.datetime, who: int | str, **properties: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": kind,
        "occurred_at": at.isoformat(),
        "properties": properties,
        "client_event_id": None,
    }
    if isinstance(who, str):
        item["anonymous_id"] = who
    else:
        item["customer_id"] = who
    return item


async def _room_events(
    session: AsyncSession,
    live: LiveSession,
    customer_ids: Sequence[int],
    rng: random.Random,
) -> list[dict[str, Any]]:
    assert live.started_at is not None and live.ended_at is not None
    starts, ends = live.started_at, live.ended_at
    length = int((ends - starts).total_seconds())
    links = await live_service.list_entry_links(
        session=session, shop_id=live.shop_id, live_session_id=live.id
    )
    lineup = list(
        (
            await session.execute(
                select(LiveSessionProduct.product_id).where(
                    LiveSessionProduct.live_session_id == live.id
                )
            )
        ).scalars()
    )
    buyers: set[int] = {
        int(customer_id)
        for customer_id in (
            await session.execute(
                select(Order.customer_id).where(
                    Order.shop_id == live.shop_id,
                    Order.live_session_id == live.id,
                    Order.customer_id.is_not(None),
                )
            )
        ).scalars()
        if customer_id is not None
    }
    known: dict[int, LiveViewer] = {
        int(row.customer_id): row
        for row in (
            await session.execute(select(LiveViewer).where(LiveViewer.live_session_id == live.id))
        ).scalars()
        if row.customer_id is not None
    }
    pool = [c for c in customer_ids if c not in buyers and c not in known]
    people: list[int | str] = [*sorted(buyers), *sorted(known)]
    people += rng.sample(pool, min(len(pool), max(0, CUSTOMERS_PER_SESSION - len(people))))
    people += [f"d:demo-{live.id}-{n}" for n in range(GUESTS_PER_SESSION)]
    items: list[dict[str, Any]] = []
    for who in people:
        row = known.get(who) if isinstance(who, int) else None
        # Most arrive in the first half hour; stays are long-tailed, as in a real room.
        enter = starts + dt.timedelta(seconds=int(min(length - 60, rng.expovariate(1 / 900))))
        if row is not None:
            enter = max(starts, min(row.first_entered_at, ends - dt.timedelta(minutes=1)))
        stay = int(row.watch_seconds if row else rng.expovariate(1 / 1100)) + 30
        leave = min(ends, enter + dt.timedelta(seconds=stay))
        source = rng.choice(links).code if links and rng.random() < 0.8 else ""
        items.append(_item("live_enter", enter, who, source_code=source, share_code=""))
        watched = int((leave - enter).total_seconds())
        items.append(_item("live_leave", leave, who, watch_seconds=watched, reason="closed"))
        span = max(1, watched)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            at = enter + dt.timedelta(seconds=rng.randrange(span))
            items.append(_item("live_comment", at, who, text=rng.choice(COMMENTS), shown=True))
        if rng.random() < 0.45:
            at = enter + dt.timedelta(seconds=rng.randrange(span))
            items.append(_item("live_like", at, who, count=rng.randrange(1, 40)))
        for product_id in rng.sample(lineup, min(len(lineup), rng.choice([0, 1, 1, 2]))):
            at = enter + dt.timedelta(seconds=rng.randrange(span))
            click = _item("live_product_click", at, who, product_id=product_id)
            click["product_id"] = product_id
            items.append(click)
        if isinstance(who, int) and who not in known:
            session.add(
                LiveViewer(
                    shop_id=live.shop_id, live_session_id=live.id, viewer_key=f"c:{who}",
                    customer_id=who, source_code=source, first_entered_at=enter,
                    last_seen_at=leave, watch_seconds=watched,
                )
            )  # fmt: skip
    for index, item in enumerate(items):
        item["live_session_id"] = live.id
        item["client_event_id"] = f"demo-room-{live.id}-{index}"
    return items


async def seed_live_reports(
    *,
    session: AsyncSession,
    shop_id: int,
    rooms: dict[str, Any],
    customer_ids: Sequence[int],
    seed: int = 7,
) -> ReportsSeed:
    """Room events and a report for every ended demo session."""
    rng = random.Random(seed * 31 + 5)
    reported = ReportsSeed()
    for live_session_id in rooms["ended"]:
        live = await live_service.get_live_session(
            session=session, shop_id=shop_id, live_session_id=live_session_id
        )
        items = await _room_events(session, live, customer_ids, rng)
        for start in range(0, len(items), MAX_BATCH):
            result = await events_service.ingest_events(
                session=session,
                shop_id=shop_id,
                items=items[start : start + MAX_BATCH],
                mark_customers_active=False,
            )
            if result.errors:
                raise RuntimeError(f"demo room events were refused: {result.errors[:3]}")
            reported.events += result.accepted
        report = await analytics_service.generate_live_report(
            session=session, shop_id=shop_id, live_session_id=live.id
        )
        viewing, interaction = report.body["viewing"], report.body["interaction"]
        # The figures presence would have kept, in step with the events now recorded.
        live.peak_viewers = int(viewing["peak_online"])
        live.total_viewers = int(viewing["uv"])
        live.like_total = int(interaction["likes"])
        reported.viewers[live.id] = int(viewing["uv"])
    await session.flush()
    return reported
