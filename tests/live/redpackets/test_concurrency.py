"""Many grabs racing for one red packet on separate connections, committing for real (on
PostgreSQL when LIVELOOP_TEST_DATABASE_URL is set): never more grabs than shares, never more
than the total, one grab per customer however many devices, the remainder back exactly once.
These tests make their own shop and delete it at the end."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from liveloop.core.errors import Conflict, LiveLoopError
from liveloop.core.jobs import queue
from liveloop.customers import service as customers_service
from liveloop.live.redpackets import grabs, service
from liveloop.live.redpackets.models import (
    RedPacket,
    RedPacketBalanceEntry,
    RedPacketBudgetEntry,
    RedPacketShare,
)
from liveloop.live.redpackets.schemas import RedPacketCreate
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests.factories.live import make_live_session
from tests.factories.shops import drop_shop

REFUSALS = {"red_packet_empty", "red_packet_already_grabbed", "red_packet_ended"}


@pytest.fixture(autouse=True)
def job_queue(settings):  # type: ignore[no-untyped-def]
    queue.configure(settings)


async def _setup(database, *, customers: int, total_fen: int, count: int, split: str):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="红包测试店")
        actor = system_actor(shop.id, "test")
        live = await make_live_session(session, shop_id=shop.id, status="live")
        ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"观众{n}"} for n in range(customers)],
        )
        await service.top_up_budget(session=session, actor=actor, amount_fen=total_fen + 500)
        packet = await service.start_red_packet(
            session=session,
            actor=actor,
            live_session_id=live.id,
            data=RedPacketCreate(
                total_fen=total_fen, count=count, split=split, duration_seconds=60
            ),  # type: ignore[arg-type]
        )
        await session.commit()
    return shop, packet, ids


async def _grab(database, shop_id: int, packet_id: int, customer_id: int, device: str) -> Any:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        try:
            result = await grabs.grab_red_packet(
                session=session,
                shop_id=shop_id,
                red_packet_id=packet_id,
                customer_id=customer_id,
                device_id=device,
            )
            await session.commit()
            return (customer_id, result.amount_fen)
        except Conflict as refused:
            assert refused.code in REFUSALS, refused.message
            await session.rollback()
            return refused.code


async def _stop(database, shop_id: int, packet_id: int) -> Any:  # type: ignore[no-untyped-def]
    await asyncio.sleep(0.01)
    async with database.sessionmaker() as session:
        try:
            await service.stop_red_packet(
                session=session, actor=system_actor(shop_id, "test"), red_packet_id=packet_id
            )
            await session.commit()
            return "stopped"
        except LiveLoopError as refused:
            await session.rollback()
            return refused.code


async def _facts(database, shop_id: int, packet_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shares = (
            await session.execute(
                select(
                    RedPacketShare.state, RedPacketShare.customer_id, RedPacketShare.amount_fen
                ).where(RedPacketShare.red_packet_id == packet_id)
            )
        ).all()
        packet = (
            await session.execute(select(RedPacket).where(RedPacket.id == packet_id))
        ).scalar_one()
        credited = await session.scalar(
            select(func.coalesce(func.sum(RedPacketBalanceEntry.amount_fen), 0)).where(
                RedPacketBalanceEntry.red_packet_id == packet_id
            )
        )
        returns = (
            (
                await session.execute(
                    select(RedPacketBudgetEntry.amount_fen).where(
                        RedPacketBudgetEntry.red_packet_id == packet_id,
                        RedPacketBudgetEntry.kind == "return",
                    )
                )
            )
            .scalars()
            .all()
        )
        budget = await service.get_budget_balance(session=session, shop_id=shop_id)
    return {
        "shares": shares, "packet": packet, "credited": int(credited or 0),
        "returns": list(returns), "budget": budget,
    }  # fmt: skip


async def _drop(database, shop) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await drop_shop(session, shop.id)
        await session.commit()


def _check(
    facts: dict[str, Any], results: list[Any], *, total_fen: int, count: int
) -> list[tuple[int, int]]:
    wins = [r for r in results if isinstance(r, tuple)]
    grabbed = [s for s in facts["shares"] if s.state == "grabbed"]
    assert len(grabbed) == len(wins) <= count
    assert sum(s.amount_fen for s in grabbed) == sum(a for _, a in wins) <= total_fen
    assert sum(s.amount_fen for s in facts["shares"]) == total_fen
    assert max(Counter(s.customer_id for s in grabbed).values(), default=0) <= 1
    assert max(Counter(c for c, _ in wins).values(), default=0) <= 1
    assert facts["credited"] == sum(a for _, a in wins)
    return wins


async def test_many_customers_grab_exactly_the_shares(database) -> None:
    total, count = 1000, 25
    shop, packet, ids = await _setup(
        database, customers=80, total_fen=total, count=count, split="lucky"
    )
    try:
        results = await asyncio.gather(
            *(_grab(database, shop.id, packet.id, c, f"d{c}") for c in ids)
        )
        async with database.sessionmaker() as session:  # the next read closes it at least
            await service.close_if_due(
                session,
                await service.get_red_packet(
                    session=session, shop_id=shop.id, red_packet_id=packet.id
                ),
            )
            await session.commit()
        facts = await _facts(database, shop.id, packet.id)
        wins = _check(facts, results, total_fen=total, count=count)
        assert len(wins) == count  # every share went, to 25 different customers
        assert sum(a for _, a in wins) == total
        assert facts["packet"].status == "ended" and facts["returns"] == [0]
        assert facts["budget"] == 500
    finally:
        await _drop(database, shop)


async def test_one_customer_on_many_devices_grabs_once(database) -> None:
    shop, packet, ids = await _setup(database, customers=1, total_fen=500, count=5, split="equal")
    try:
        results = await asyncio.gather(
            *(_grab(database, shop.id, packet.id, ids[0], f"phone-{n}") for n in range(20))
        )
        facts = await _facts(database, shop.id, packet.id)
        wins = _check(facts, results, total_fen=500, count=5)
        assert wins == [(ids[0], 100)]
        assert Counter(r for r in results if isinstance(r, str)) == {
            "red_packet_already_grabbed": 19
        }
    finally:
        await _drop(database, shop)


async def test_devices_and_a_stop_racing_return_the_rest_exactly_once(database) -> None:
    total, count = 5000, 40
    shop, packet, ids = await _setup(
        database, customers=30, total_fen=total, count=count, split="lucky"
    )
    try:
        attempts = [(c, f"{c}-{n}") for c in ids for n in range(3)]
        random.Random(5).shuffle(attempts)
        results = await asyncio.gather(
            *(_grab(database, shop.id, packet.id, c, d) for c, d in attempts),
            _stop(database, shop.id, packet.id),
            _stop(database, shop.id, packet.id),
        )
        grabs, stops = list(results[:-2]), list(results[-2:])
        assert sorted(stops) == ["red_packet_ended", "stopped"]
        facts = await _facts(database, shop.id, packet.id)
        wins = _check(facts, grabs, total_fen=total, count=count)
        grabbed_fen = sum(a for _, a in wins)
        assert facts["returns"] == [total - grabbed_fen] == [facts["packet"].returned_fen]
        assert {s.state for s in facts["shares"]} <= {"grabbed", "returned"}
        assert facts["budget"] == total + 500 - grabbed_fen
    finally:
        await _drop(database, shop)


async def test_packets_racing_for_the_budget_never_take_it_below_zero(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="预算测试店")
        actor = system_actor(shop.id, "test")
        lives = [
            await make_live_session(session, shop_id=shop.id, status="live") for _ in range(10)
        ]
        await service.top_up_budget(session=session, actor=actor, amount_fen=3500)
        await session.commit()

    async def create(live_id: int) -> str:
        async with database.sessionmaker() as session:
            try:
                await service.start_red_packet(
                    session=session,
                    actor=actor,
                    live_session_id=live_id,
                    data=RedPacketCreate(total_fen=1000, count=10),
                )
                await session.commit()
                return "started"
            except Conflict as refused:
                await session.rollback()
                return refused.code

    try:
        results = await asyncio.gather(*(create(live.id) for live in lives))
        assert Counter(results) == {"started": 3, "red_packet_budget_insufficient": 7}
        async with database.sessionmaker() as session:
            assert await service.get_budget_balance(session=session, shop_id=shop.id) == 500
            entries = await service.list_budget_entries(session=session, shop_id=shop.id)
            assert sorted(e.amount_fen for e in entries) == [-1000, -1000, -1000, 3500]
            assert min(e.balance_after_fen for e in entries) >= 0
    finally:
        await _drop(database, shop)
