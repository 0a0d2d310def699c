"""A small session whose attribution under every model is worked out by hand in test_service.

Times are seconds after the session started (T0, two days ago); it ran 600 s.

  who  touchpoints (oldest first)                                  paid order of the session
  A    channel code 门店码 at T0-10 days; entered at T0 through      OA 10,000 fen, placed T0+100
       broadcast link bc-7-100 (→ broadcast #7 and the session)
  B    entered another session 40 days ago by share link OLDSHARE    OB  5,000 fen, placed T0+200
       (outside the 30-day lookback); entered at T0+10 by the KOL
       link 茶博主 (→ kol and the session); re-entered at T0+50
       through the same link (adds nothing)
  C    never in the room; the order carries share code SHAREX        OC  3,001 fen, placed T0+300
  D    entered at T0+20 with no code; bought nothing (a non-converting path)
B also paid a mall order 40 days ago (not in the session, not in the range below).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.models import Order
from liveloop.core.database import utcnow
from liveloop.customers.channel_codes.models import ChannelCode, ChannelCodeArrival
from liveloop.live import service as live_service
from liveloop.live.schemas import EntryLinkCreate
from liveloop.shops.service import system_actor
from tests import factories
from tests.analytics.conftest import event, ingest
from tests.factories.live import make_live_session

DURATION_S = 600


def paid_order(
    shop_id: int, number: str, customer_id: int | None, fen: int, at: dt.datetime, **extra: Any
) -> Order:
    return Order(
        shop_id=shop_id, number=number, customer_id=customer_id, status="paid",
        items_total_fen=fen, total_fen=fen, paid_fen=fen, created_at=at,
        paid_at=at + dt.timedelta(seconds=20), **extra,
    )  # fmt: skip


async def build_attribution_session(session: AsyncSession, *, shop_id: int) -> dict[str, Any]:
    actor = system_actor(shop_id)
    live = await make_live_session(session, shop_id=shop_id, title="茶季专场", status="ended")
    old_live = await make_live_session(session, shop_id=shop_id, title="旧专场", status="ended")
    t0 = (utcnow() - dt.timedelta(days=2)).replace(microsecond=0)
    live.started_at, live.ended_at = t0, t0 + dt.timedelta(seconds=DURATION_S)
    old_t = t0 - dt.timedelta(days=40)
    old_live.started_at, old_live.ended_at = old_t, old_t + dt.timedelta(hours=1)
    kol = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="kol", label="茶博主"),
    )  # fmt: skip

    def at(seconds: float) -> dt.datetime:
        return t0 + dt.timedelta(seconds=seconds)

    a, b, c, d = [
        await factories.make_customer(session, shop_id=shop_id, name=name)
        for name in ("阿青", "阿白", "阿紫", "阿黄")
    ]
    store = ChannelCode(shop_id=shop_id, name="门店码", code="STORE1", kind="store")
    session.add(store)
    await session.flush()
    session.add(
        ChannelCodeArrival(shop_id=shop_id, channel_code_id=store.id, customer_id=a.id,
                           via="join_callback", arrived_at=t0 - dt.timedelta(days=10))
    )  # fmt: skip
    enter = "live_enter"
    await ingest(
        session,
        shop_id,
        live.id,
        [
            event(enter, t0, 0, a.id, source_code="bc-7-100", share_code=""),
            event(enter, t0, 10, b.id, source_code=kol.code, share_code=""),
            event(enter, t0, 50, b.id, source_code=kol.code, share_code=""),
            event(enter, t0, 20, d.id, source_code="", share_code=""),
        ],
    )
    await ingest(
        session,
        shop_id,
        old_live.id,
        [event(enter, old_t, 0, b.id, source_code="", share_code="OLDSHARE")],
    )
    orders = {
        "a": paid_order(shop_id, "AT-A", a.id, 10000, at(100), live_session_id=live.id,
                        source_code="bc-7-100"),
        "b": paid_order(shop_id, "AT-B", b.id, 5000, at(200), live_session_id=live.id),
        "c": paid_order(shop_id, "AT-C", c.id, 3001, at(300), live_session_id=live.id,
                        share_code="SHAREX"),
        "b_old": paid_order(shop_id, "AT-B0", b.id, 7000, old_t + dt.timedelta(minutes=5)),
    }  # fmt: skip
    session.add_all(orders.values())
    await session.flush()
    return {
        "live": live, "old_live": old_live, "t0": t0, "kol": kol, "store": store,
        "a": a, "b": b, "c": c, "d": d, "orders": orders,
    }  # fmt: skip


@pytest.fixture
async def attribution_session(session: AsyncSession, shop: Any) -> dict[str, Any]:
    return await build_attribution_session(session, shop_id=shop.id)
