"""The cheap paths of buying: refusals without database work (the sold-out memory, batched
Redis reservations), and what they must not break — an Idempotency-Key repeat still returns the
first order, units coming back clear the sold-out memory, first come first served.

Committed for real on separate sessions (like test_concurrency); Redis cases when
LIVELOOP_TEST_REDIS_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from liveloop.commerce import orders
from liveloop.commerce.flash import redis_lua
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.redis_lua import FlashCounters
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict
from tests.commerce.flash.test_concurrency import _drop, _setup, _truth
from tests.conftest import TEST_REDIS_URL

PATHS = pytest.mark.parametrize("redis", [False, True], ids=["sql", "redis_lua"])


@pytest.fixture(autouse=True)
def job_queue(settings):  # type: ignore[no-untyped-def]
    from liveloop.core.jobs import queue

    queue.configure(settings)


@pytest.fixture(autouse=True)
def no_memory() -> Iterator[None]:
    flash_service._sold_out_until.clear()
    yield
    flash_service._sold_out_until.clear()


def _counters(redis: bool) -> FlashCounters | None:
    if not redis:
        return None
    if not TEST_REDIS_URL:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    return FlashCounters.from_url(TEST_REDIS_URL)


@contextmanager
def count_statements(database) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def _buy(database, shop, sale, customer_id, counters, key=None, quantity=1):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        try:
            order = await flash_service.buy_flash_sale(
                session=session,
                shop_id=shop.id,
                flash_sale_id=sale.id,
                customer_id=customer_id,
                quantity=quantity,
                counters=counters,
                idempotency_key=key,
            )
            await session.commit()
            return order
        except BaseException:
            await session.rollback()
            raise


async def _cleanup(database, shop, sale, counters) -> None:  # type: ignore[no-untyped-def]
    if counters is not None:
        await counters.forget(shop_id=shop.id, sale_id=sale.id)
        await counters.aclose()
    await _drop(database, shop)


@PATHS
async def test_a_repeat_after_the_sell_out_returns_the_first_order(database, redis) -> None:
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=3, quantity=1, limit=1, stock=5)
    try:
        first = await _buy(database, shop, sale, ids[0], counters, key="tap-1")
        with pytest.raises(Conflict) as refused:
            await _buy(database, shop, sale, ids[1], counters, key="tap-2")
        assert refused.value.code == "sold_out"
        # The winner's page retries (the answer was lost): the same order, no second unit.
        again = await _buy(database, shop, sale, ids[0], counters, key="tap-1")
        assert again.id == first.id
        # The same key for another buyer is another request (keys are per customer).
        with pytest.raises(Conflict) as other:
            await _buy(database, shop, sale, ids[2], counters, key="tap-1")
        assert other.value.code == "sold_out"
        fresh, orders_count, reservations, _ = await _truth(database, shop, sale)
        assert fresh.sold_count == 1 and orders_count == 1 and len(reservations) == 1
        if counters is not None:
            assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 0
    finally:
        await _cleanup(database, shop, sale, counters)


@PATHS
async def test_a_repeat_of_a_released_order_still_returns_it(database, redis) -> None:
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=2, quantity=1, limit=1, stock=5)
    try:
        first = await _buy(database, shop, sale, ids[0], counters, key="tap-1")
        async with database.sessionmaker() as session:
            await orders.cancel_order(
                session=session, shop_id=shop.id, order_id=first.id, reason="t", actor="test"
            )
            await session.commit()
        await asyncio.sleep(0.05)  # the Redis give-back runs just after the commit
        again = await _buy(database, shop, sale, ids[0], counters, key="tap-1")
        assert again.id == first.id and again.status == "cancelled"
        fresh, orders_count, _, _ = await _truth(database, shop, sale)
        assert fresh.sold_count == 0 and orders_count == 0
        if counters is not None:
            assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 1
    finally:
        await _cleanup(database, shop, sale, counters)


@PATHS
async def test_units_coming_back_clear_the_sold_out_memory(database, redis) -> None:
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=3, quantity=1, limit=1, stock=5)
    try:
        won = await _buy(database, shop, sale, ids[0], counters)
        with pytest.raises(Conflict):
            await _buy(database, shop, sale, ids[1], counters)
        assert flash_service._known_sold_out(shop.id, sale.id)  # remembered in this process
        async with database.sessionmaker() as session:
            await orders.cancel_order(
                session=session, shop_id=shop.id, order_id=won.id, reason="t", actor="test"
            )
            await session.commit()
        await asyncio.sleep(0.05)  # the Redis give-back runs just after the commit
        assert not flash_service._known_sold_out(shop.id, sale.id)
        # Well within the memory's half second: the next buyer gets the unit back.
        order = await _buy(database, shop, sale, ids[2], counters)
        assert order.kind == "flash"
        fresh, orders_count, _, _ = await _truth(database, shop, sale)
        assert fresh.sold_count == 1 and orders_count == 1
    finally:
        await _cleanup(database, shop, sale, counters)


@PATHS
async def test_a_sold_out_refusal_costs_no_database_statement(database, redis) -> None:
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=4, quantity=1, limit=1, stock=5)
    try:
        await _buy(database, shop, sale, ids[0], counters)
        with pytest.raises(Conflict):
            await _buy(database, shop, sale, ids[1], counters)  # sets the memory (SQL path)
        with count_statements(database) as seen, pytest.raises(Conflict) as refused:
            await _buy(database, shop, sale, ids[2], counters)
        assert refused.value.code == "sold_out"
        assert seen == []
        if counters is not None:
            # On Redis even a request with an Idempotency-Key that never bought is refused
            # there: no key row written, no read.
            with count_statements(database) as seen, pytest.raises(Conflict):
                await _buy(database, shop, sale, ids[3], counters, key="fresh-key")
            assert seen == []
    finally:
        await _cleanup(database, shop, sale, counters)


async def test_limit_and_not_started_refusals_come_from_redis_alone(database) -> None:
    counters = _counters(True)
    assert counters is not None
    shop, sale, ids = await _setup(database, buyers=2, quantity=5, limit=1, stock=10)
    try:
        await _buy(database, shop, sale, ids[0], counters)
        with count_statements(database) as seen, pytest.raises(Conflict) as refused:
            await _buy(database, shop, sale, ids[0], counters)
        assert refused.value.code == "flash_limit_reached"
        assert "allows 1 per customer" in refused.value.message
        assert seen == []
        # The sale moved to the future in Redis (as if it had not started yet).
        key = counters.keys(shop.id, sale.id)[0]
        later = int(utcnow().timestamp() * 1000) + 3_600_000
        await counters.client.hset(key, "starts", later)
        with count_statements(database) as seen, pytest.raises(Conflict) as early:
            await _buy(database, shop, sale, ids[1], counters)
        assert early.value.code == "flash_not_started" and seen == []
    finally:
        await _cleanup(database, shop, sale, counters)


@PATHS
async def test_a_double_click_in_flight_is_one_order(database, redis) -> None:
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=1, quantity=3, limit=2, stock=5)
    try:
        taps = await asyncio.gather(
            *(_buy(database, shop, sale, ids[0], counters, key="tap-1") for _ in range(3))
        )
        assert len({order.id for order in taps}) == 1
        fresh, orders_count, _reservations, buyers = await _truth(database, shop, sale)
        assert fresh.sold_count == 1 and orders_count == 1 and buyers == {ids[0]: 1}
        if counters is not None:
            await asyncio.sleep(0.05)
            assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 2
    finally:
        await _cleanup(database, shop, sale, counters)


async def test_batched_reservations_serve_buyers_in_the_order_they_came(database) -> None:
    counters = _counters(True)
    assert counters is not None
    shop, sale, _ids = await _setup(database, buyers=1, quantity=10, limit=1, stock=20)
    try:
        await counters.forget(shop_id=shop.id, sale_id=sale.id)
        await counters.load(
            redis_lua.SaleTerms(
                shop_id=shop.id, sale_id=sale.id, remaining=10, limit=1,
                starts_at=sale.starts_at, ends_at=sale.ends_at, active=True, buyers={},
            )
        )  # fmt: skip
        now = utcnow()

        async def reserve(customer: int) -> redis_lua.Reserved:
            return await counters.reserve(
                shop_id=shop.id, sale_id=sale.id, customer_id=customer, quantity=1,
                token=f"t-{customer}", now=now,
            )  # fmt: skip

        tasks = [asyncio.create_task(reserve(customer)) for customer in range(1, 61)]
        await asyncio.sleep(0)  # every buyer has asked; the batch is not sent yet
        tasks[3].cancel()  # buyer 4 goes away before the batch leaves: never reserved
        await asyncio.sleep(0)  # the batch is on its way
        tasks[1].cancel()  # buyer 2 goes away during the round trip: the unit comes back
        results = await asyncio.gather(*tasks, return_exceptions=True)
        answered = {n + 1: r for n, r in enumerate(results) if isinstance(r, redis_lua.Reserved)}
        winners = [n for n, r in answered.items() if r.code == redis_lua.OK]
        assert winners == [1, 3, *range(5, 12)]  # first come, first served
        assert {r.code for n, r in answered.items() if n > 11} == {redis_lua.SOLD_OUT}
        assert len(answered) == 58
        await asyncio.sleep(0.05)
        assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 1
        pending = await counters.client.hlen(counters.keys(shop.id, sale.id)[2])
        assert pending == 9  # the winners still waiting for their orders
    finally:
        await _cleanup(database, shop, sale, counters)


async def test_counters_reloaded_after_a_redis_loss_still_know_the_keys(database) -> None:
    counters = _counters(True)
    assert counters is not None
    shop, sale, ids = await _setup(database, buyers=2, quantity=1, limit=1, stock=5)
    try:
        first = await _buy(database, shop, sale, ids[0], counters, key="tap-1")
        async with database.sessionmaker() as session:
            await orders.cancel_order(
                session=session, shop_id=shop.id, order_id=first.id, reason="t", actor="test"
            )
            await session.commit()
        await asyncio.sleep(0.05)
        await counters.forget(shop_id=shop.id, sale_id=sale.id)  # Redis lost the sale
        # Reloaded from the database on the next attempt, with the key that bought here.
        again = await _buy(database, shop, sale, ids[0], counters, key="tap-1")
        assert again.id == first.id
        fields = await counters.client.hkeys(counters.keys(shop.id, sale.id)[4])
        assert fields == [f"{ids[0]}:tap-1"]
        assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 1
        other = await _buy(database, shop, sale, ids[1], counters, key="tap-9")
        assert other.id != first.id
    finally:
        await _cleanup(database, shop, sale, counters)
