"""A small shop whose retention, LTV and value figures are worked out by hand in the tests.

Shop time zone Asia/Shanghai (UTC+8). Customers (first seen, entry channel):
  A 2026-01-05 wecom · B 2026-01-20 kol · C 2026-02-03 wecom · E 2026-02-10 share (never buys)

Paid orders (paid_at UTC → local month; net = paid − refunded):
  A1 A 01-10 02:00Z Jan  10,000 − 0      live L1
  A2 A 02-15 10:00Z Feb   5,000 − 1,000  KOL K2
  A3 A 03-31 17:00Z Apr   3,000 − 0      (local 2026-04-01 01:00: April, not March)
  B1 B 01-31 18:00Z Feb   8,000 − 0      live L1, coupon -500, KOL K (commission 800)
  B2 B 03-05 04:00Z Mar   2,000 − 0      source bc-42-7, KOL K (commission 200, 50 reversed)
  C1 C 02-20 04:00Z Feb   6,000 − 5,999  source bc-420-1 (not broadcast 42)
Not paid: A cancelled 01-12 (9,999), C pending 03-01 (7,777): never counted.

Live visits (live_enter / view, UTC → local week starting Monday):
  A L1 03-02 12:00Z (week 03-02) · A L2 03-15 15:00Z (Sun 23:00: week 03-09)
  A L2 view 03-15 16:30Z (Mon 00:30: week 03-16) · B L2 03-10 (week 03-09) · B comment 03-17 (not a visit)
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.affiliates.models import Affiliate, AffiliateOrder, Commission
from liveloop.commerce.models import Order
from liveloop.events import service as events_service
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.live import make_live_session

_numbers = itertools.count(1)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _order(shop_id: int, customer_id: int, paid_at: str | None, paid: int, refunded: int = 0,
           status: str = "paid", **extra: Any) -> Order:  # fmt: skip
    total = paid or extra.pop("total_fen", 0)
    return Order(
        shop_id=shop_id,
        number=f"T{next(_numbers):08d}",
        customer_id=customer_id,
        status=status,
        items_total_fen=total,
        total_fen=total,
        paid_fen=paid,
        refunded_fen=refunded,
        paid_at=utc(paid_at) if paid_at else None,
        **extra,
    )


async def build_value_shop(session: AsyncSession, *, shop_id: int) -> dict[str, Any]:
    l1 = await make_live_session(session, shop_id=shop_id, title="L1", status="ended")
    l2 = await make_live_session(session, shop_id=shop_id, title="L2", status="ended")
    people = {}
    for key, name, seen, channel in (
        ("A", "阿青", "2026-01-05T02:00", "wecom"),
        ("B", "阿白", "2026-01-20T02:00", "kol"),
        ("C", "阿紫", "2026-02-03T02:00", "wecom"),
        ("E", "阿黄", "2026-02-10T02:00", "share"),
    ):
        customer = await factories.make_customer(session, shop_id=shop_id, name=name)
        customer.first_seen_at, customer.source_channel = utc(seen), channel
        people[key] = customer
    a, b, c = people["A"].id, people["B"].id, people["C"].id
    kol = Affiliate(shop_id=shop_id, name="茶博主", kind="kol", default_rate_bp=1000)
    kol2 = Affiliate(shop_id=shop_id, name="茶友", kind="koc", default_rate_bp=0)
    session.add_all([kol, kol2])
    orders = {
        "A1": _order(shop_id, a, "2026-01-10T02:00", 10000, live_session_id=l1.id),
        "A2": _order(shop_id, a, "2026-02-15T10:00", 5000, 1000, "partially_refunded"),
        "A3": _order(shop_id, a, "2026-03-31T17:00", 3000, status="completed"),
        "B1": _order(
            shop_id,
            b,
            "2026-01-31T18:00",
            8000,
            live_session_id=l1.id,
            discount_fen=500,
            customer_coupon_id=1,
        ),
        "B2": _order(shop_id, b, "2026-03-05T04:00", 2000, source_code="bc-42-7", status="shipped"),
        "C1": _order(
            shop_id, c, "2026-02-20T04:00", 6000, 5999, "partially_refunded", source_code="bc-420-1"
        ),
        "AX": _order(
            shop_id, a, None, 0, status="cancelled", total_fen=9999, live_session_id=l1.id
        ),
        "CX": _order(shop_id, c, None, 0, status="pending_payment", total_fen=7777),
    }
    session.add_all(orders.values())
    await session.flush()
    session.add_all(
        [
            AffiliateOrder(shop_id=shop_id, affiliate_id=kol.id, order_id=orders["B1"].id,
                           code="K", matched_by="promo", gmv_fen=8000),
            AffiliateOrder(shop_id=shop_id, affiliate_id=kol.id, order_id=orders["B2"].id,
                           code="K", matched_by="promo", gmv_fen=2000),
            AffiliateOrder(shop_id=shop_id, affiliate_id=kol2.id, order_id=orders["A2"].id,
                           code="K2", matched_by="share", gmv_fen=5000),
            Commission(shop_id=shop_id, affiliate_id=kol.id, order_id=orders["B1"].id,
                       order_line_id=900001, base_fen=8000, rate_bp=1000, amount_fen=800),
            Commission(shop_id=shop_id, affiliate_id=kol.id, order_id=orders["B2"].id,
                       order_line_id=900002, base_fen=2000, rate_bp=1000, amount_fen=200,
                       reversed_fen=50),
        ]
    )  # fmt: skip
    items = [
        {"type": "live_enter", "customer_id": a, "live_session_id": l1.id,
         "occurred_at": "2026-03-02T12:00:00+00:00"},
        {"type": "live_enter", "customer_id": a, "live_session_id": l2.id,
         "occurred_at": "2026-03-15T15:00:00+00:00"},
        {"type": "view", "customer_id": a, "live_session_id": l2.id,
         "occurred_at": "2026-03-15T16:30:00+00:00"},
        {"type": "live_enter", "customer_id": b, "live_session_id": l2.id,
         "occurred_at": "2026-03-10T04:00:00+00:00"},
        {"type": "comment", "customer_id": b, "live_session_id": l2.id,
         "occurred_at": "2026-03-17T04:00:00+00:00"},
    ]  # fmt: skip
    result = await events_service.ingest_events(
        session=session, shop_id=shop_id, items=items, mark_customers_active=False
    )
    assert not result.errors, result.errors
    await session.flush()
    return {
        "l1": l1,
        "l2": l2,
        "people": people,
        "orders": orders,
        "kol": kol,
        "kol2": kol2,
        "actor": system_actor(shop_id),
    }


@pytest.fixture
async def value_shop(session: AsyncSession, shop: Any) -> dict[str, Any]:
    return await build_value_shop(session, shop_id=shop.id)
