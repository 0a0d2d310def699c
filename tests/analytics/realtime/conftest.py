"""A live session on air for 600 s, whose every dashboard figure test_snapshot works out by
hand; and a real Uvicorn serving it (for the SSE and browser tests).

Times are seconds after the session started (T0); the snapshot is read at NOW = T0 + 600.

  viewer  visits (enter → leave, source)                 on air, merged   watch  earlier session
  A  c    0 → 300 (group link), 400 → open (no link)     [0,300][400,600]  500   yes (this shop)
  B  c    60 → 240 (KOL), a second tab 120 → 180 (KOL)   [60,240]          180   after T0 only
  C  c    90 → open (share link)                         [90,600]          510
  G  d    -30 → 30 (broadcast link bc-7-9)               [0,30]             30   yes (this shop)
  D  d    500 → 595 (reminder link rm-start)             [500,595]          95   another shop's
  H  d    590 → open (no link)                           [590,600]          10
  E  c    never in the room; paid an order of the session

Products (stock before the session): tea ¥129.00 (20), cup ¥50.00 (10) in the line-up;
scarf ¥99.00 (5) not in it. Orders (created → paid, seconds):
  O1 A  2 tea               25,800   90 → 100; one tea refunded (12,900, unshipped: restocked)
  O2 B  1 cup + ¥10 shipping 6,000  160 → 170
  O3 C  1 tea               12,900  200, pending payment
  O5 B  1 tea               12,900  250, cancelled (restocked)
  O4 E  1 tea + 1 cup       17,900  310 → 330
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import orders as orders_service
from liveloop.commerce.payments import refunds
from liveloop.core.database import Database, utcnow
from liveloop.live import service as live_service
from liveloop.live.models import LiveShare
from liveloop.live.schemas import EntryLinkCreate
from liveloop.models import Base
from liveloop.shops.service import actor_for_staff, system_actor
from tests import factories
from tests.analytics.conftest import event, ingest
from tests.commerce.growth_helpers import pay
from tests.factories.live import make_live_session
from tests.pages.test_console_browser import free_port, start_uvicorn
from tests.servers import stop_server, wait_ready

DURATION_S = 600


def at(t0: dt.datetime, seconds: float) -> dt.datetime:
    return t0 + dt.timedelta(seconds=seconds)


async def _earlier_visits(
    session: AsyncSession, shop_id: int, other_shop_id: int, t0: dt.datetime, a: Any, b: Any
) -> None:
    """A and G watched an earlier session of this shop; B watched one that began after T0;
    D's device watched a session of another shop."""
    earlier = await make_live_session(session, shop_id=shop_id, status="ended")
    await ingest(session, shop_id, earlier.id, [
        event("live_enter", t0, -3 * 86400, a.id),
        event("live_enter", t0, -3 * 86400, "d:guest-g"),
    ])  # fmt: skip
    later = await make_live_session(session, shop_id=shop_id, status="live")
    await ingest(session, shop_id, later.id, [event("live_enter", t0, 100, b.id)])
    elsewhere = await make_live_session(session, shop_id=other_shop_id, status="ended")
    await ingest(
        session, other_shop_id, elsewhere.id, [event("live_enter", t0, -86400, "d:guest-d")]
    )


async def _orders(session: AsyncSession, shop_id: int, w: dict[str, Any]) -> list[Any]:
    t0, live = w["t0"], w["live"]
    actor = system_actor(shop_id)

    async def order(who: Any, lines: list[tuple[Any, int]], created: int) -> Any:
        placed = await factories.make_order(
            session, shop_id=shop_id, customer_id=who.id, live_session_id=live.id,
            lines=[(product.skus[0].id, n) for product, n in lines],
        )  # fmt: skip
        placed.created_at = at(t0, created)
        return placed

    async def paid(placed: Any, seconds: int) -> Any:
        placed = await pay(session, placed)
        placed.paid_at = at(t0, seconds)
        return placed

    tea, cup = w["tea"], w["cup"]
    o1 = await paid(await order(w["a"], [(tea, 2)], 90), 100)
    o2 = await paid(await order(w["b"], [(cup, 1)], 160), 170)
    o3 = await order(w["c"], [(tea, 1)], 200)
    o5 = await order(w["b"], [(tea, 1)], 250)
    await orders_service.cancel_order(
        session=session, shop_id=shop_id, order_id=o5.id, reason="买错了", actor=actor
    )
    o4 = await paid(await order(w["e"], [(tea, 1), (cup, 1)], 310), 330)
    await refunds.create_refund(
        session=session, shop_id=shop_id, order_id=o1.id,
        lines=[refunds.RefundLineIn(order_line_id=o1.lines[0].id, quantity=1)],
        reason="一盒破损", actor=actor,
    )  # fmt: skip
    for placed in (o1, o2, o4):  # the payment and refund services stamp their own times
        await session.refresh(placed)
    o1.paid_at, o2.paid_at, o4.paid_at = at(t0, 100), at(t0, 170), at(t0, 330)
    await session.flush()
    return [o1, o2, o3, o4, o5]


async def build_realtime_session(
    session: AsyncSession, *, shop_id: int, other_shop_id: int, status: str = "live"
) -> dict[str, Any]:
    """The session of the module docstring (`status` "ended": it ended at T0 + 600)."""
    actor = system_actor(shop_id)
    tea = await factories.make_product(session, shop_id=shop_id, name="明前龙井", price_fen=12900,
                                       stock=20)  # fmt: skip
    cup = await factories.make_product(session, shop_id=shop_id, name="白瓷杯", price_fen=5000,
                                       stock=10)  # fmt: skip
    scarf = await factories.make_product(session, shop_id=shop_id, name="丝巾", price_fen=9900,
                                         stock=5)  # fmt: skip
    live = await make_live_session(session, shop_id=shop_id, status=status,
                                   product_ids=[tea.id, cup.id])  # fmt: skip
    t0 = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
    live.started_at = t0
    live.ended_at = at(t0, DURATION_S) if status == "ended" else None
    group = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="group", label="VIP 群"),
    )  # fmt: skip
    kol = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="kol", label="茶博主"),
    )  # fmt: skip
    a, b, c, e = [
        await factories.make_customer(session, shop_id=shop_id, name=name)
        for name in ("阿青", "阿白", "阿紫", "阿黄")
    ]
    session.add_all([
        LiveShare(shop_id=shop_id, live_session_id=live.id, code="RTSHAREA", sharer_customer_id=a.id),
        LiveShare(shop_id=shop_id, live_session_id=live.id, code="RTSHAREH",
                  sharer_device_id="guest-h"),
    ])  # fmt: skip
    await session.flush()
    await _earlier_visits(session, shop_id, other_shop_id, t0, a, b)

    g, d, h = "d:guest-g", "d:guest-d", "d:guest-h"
    enter, leave, say = "live_enter", "live_leave", "live_comment"
    items = [
        event(enter, t0, 0, a.id, source_code=group.code, share_code=""),
        event(leave, t0, 300, a.id, watch_seconds=300),
        event(enter, t0, 400, a.id, source_code="", share_code=""),
        event(enter, t0, 60, b.id, source_code=kol.code, share_code=""),
        event(enter, t0, 120, b.id, source_code=kol.code, share_code=""),
        event(leave, t0, 180, b.id, watch_seconds=60),
        event(leave, t0, 240, b.id, watch_seconds=180),
        event(enter, t0, 90, c.id, source_code="", share_code="RTSHAREA"),
        event(enter, t0, -30, g, source_code="bc-7-9", share_code=""),
        event(leave, t0, 30, g, watch_seconds=60),
        event(enter, t0, 500, d, source_code="rm-start", share_code=""),
        event(leave, t0, 595, d, watch_seconds=95),
        event(enter, t0, 590, h, source_code="", share_code=""),
        event(say, t0, -20, g, text="来了"),
        event(say, t0, 20, g, text="主播好"),
        event(say, t0, 30, a.id, text="这个龙井多少钱"),
        event(say, t0, 70, a.id, text="上链接"),
        event(say, t0, 130, b.id, text="上链接"),
        event(say, t0, 200, c.id, text="龙井好喝"),
        event(say, t0, 510, d, text="加微信", blocked=True, shown=False),
        event(say, t0, 540, c.id, text="好"),
        event(say, t0, 595, h, text="刚来"),
        event("live_like", t0, 50, a.id, count=10),
        event("live_like", t0, 100, c.id, count=5),
        event("live_like", t0, 300, c.id, count=3),
    ]
    for kind, who, product, seconds in (
        ("live_product_click", a.id, tea, 40), ("live_product_click", a.id, tea, 80),
        ("live_product_click", c.id, tea, 95), ("live_product_click", b.id, cup, 70),
        ("live_product_click", g, cup, 25), ("live_product_click", h, scarf, 592),
        ("add_to_cart", a.id, tea, 85), ("add_to_cart", b.id, cup, 75),
        ("add_to_cart", c.id, tea, 96), ("add_to_cart", b.id, tea, 150),
    ):  # fmt: skip
        item = event(kind, t0, seconds, who, product_id=product.id)
        item["product_id"] = product.id
        items.append(item)
    await ingest(session, shop_id, live.id, items)
    worked = {"live": live, "t0": t0, "now": at(t0, DURATION_S), "tea": tea, "cup": cup,
              "scarf": scarf, "group": group, "kol": kol, "a": a, "b": b, "c": c, "e": e}  # fmt: skip
    worked["orders"] = await _orders(session, shop_id, worked)
    return worked


@pytest.fixture
async def worked(session: AsyncSession, shop: Any, other_shop: Any) -> dict[str, Any]:
    return await build_realtime_session(session, shop_id=shop.id, other_shop_id=other_shop.id)


async def seed(url: str) -> dict[str, Any]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        other = await factories.make_shop(session, name="隔壁小店")
        owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
        built = await build_realtime_session(
            session, shop_id=shop.id, other_shop_id=other.id, status="ended"
        )
        api_key = await factories.make_api_key(session, actor=actor_for_staff(owner))
        await session.commit()
        seeded = {"email": owner.email, "api_key": api_key, "live_id": built["live"].id,
                  "shop_id": shop.id, "customer_id": built["a"].id, "url": url}  # fmt: skip
    await database.dispose()
    return seeded


@pytest.fixture
async def dashboard_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Uvicorn over a fresh SQLite file holding the worked session, ended at T0 + 600 (so no
    figure moves with the clock)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"
    seeded = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "uvicorn.log"
    process: subprocess.Popen[bytes] = start_uvicorn(url, port, tmp_path / "var", log_path)
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, **seeded}
    finally:
        stop_server(process)
