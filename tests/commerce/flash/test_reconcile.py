"""Redis counters repaired from the database after a crash (needs LIVELOOP_TEST_REDIS_URL)."""

from __future__ import annotations

import datetime as dt

import pytest

from liveloop.commerce.flash import reconcile
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.redis_lua import OK, FlashCounters
from liveloop.core.database import utcnow
from tests import factories
from tests.commerce.flash.test_service import make_sale


@pytest.fixture
async def counters(redis_url: str):  # type: ignore[no-untyped-def]
    client = FlashCounters.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_reservation_that_never_reached_the_database_comes_back(
    session, shop, counters, monkeypatch
) -> None:
    sale, _ = await make_sale(session, shop, quantity=2, limit=1)
    await counters.forget(shop_id=shop.id, sale_id=sale.id)
    buyer, crasher = [await factories.make_customer(session, shop_id=shop.id) for _ in range(2)]
    await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=buyer.id,
        counters=counters,
    )  # fmt: skip
    # A process takes a unit in Redis and dies before its transaction commits.
    taken = await counters.reserve(
        shop_id=shop.id, sale_id=sale.id, customer_id=crasher.id, quantity=1, token="lost-1",
        now=utcnow(),
    )  # fmt: skip
    assert taken.code == OK
    assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 0
    monkeypatch.setattr(reconcile, "STALE_RESERVATION", dt.timedelta(seconds=-1))
    repaired = await reconcile.reconcile_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, counters=counters
    )
    # The buyer's token is confirmed (its row exists), the lost one given back.
    assert repaired["given_back"] == 1
    assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 1
    order = await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=crasher.id,
        counters=counters,
    )  # fmt: skip
    assert order.kind == "flash"
    await counters.forget(shop_id=shop.id, sale_id=sale.id)


async def test_drifted_counters_are_reset_from_the_database(session, shop, counters) -> None:
    sale, _ = await make_sale(session, shop, quantity=5, limit=1)
    await counters.forget(shop_id=shop.id, sale_id=sale.id)
    await reconcile.reconcile_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, counters=counters
    )  # loads them
    await counters.client.hset(counters.keys(shop.id, sale.id)[0], "remaining", 0)  # drift
    result = await reconcile.reconcile_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, counters=counters
    )
    assert result["reset"] == 1
    assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 5
    await counters.forget(shop_id=shop.id, sale_id=sale.id)
