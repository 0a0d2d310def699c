"""Shared fixtures of the RFM / lifecycle tests: paid orders at chosen times."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import orders as orders_service
from liveloop.core.database import utcnow
from tests import factories

_refs = itertools.count(1)


@pytest.fixture
def now() -> dt.datetime:
    return utcnow()


@pytest.fixture
async def skus(session: AsyncSession, shop: Any) -> dict[str, int]:
    small = await factories.make_product(
        session, shop_id=shop.id, name="小包绿茶", price_fen=5000, stock=10_000
    )
    big = await factories.make_product(
        session, shop_id=shop.id, name="礼盒普洱", price_fen=100_000, stock=10_000
    )
    return {"small": small.skus[0].id, "big": big.skus[0].id}


async def pay(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    sku_id: int,
    paid_at: dt.datetime,
    address_id: int | None = None,
) -> Any:
    """One order of one unit, paid at `paid_at`; returns the order."""
    order = await factories.make_order(
        session,
        shop_id=shop_id,
        customer_id=customer_id,
        lines=[(sku_id, 1)],
        address_id=address_id,
    )
    return await orders_service.mark_order_paid(
        session=session,
        shop_id=shop_id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=paid_at,
        payment_ref=f"test-pay-{next(_refs)}",
    )
