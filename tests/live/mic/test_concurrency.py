"""Accepts at the same moment on separate connections: one accept per request, never more
guests than seats."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import delete, select

from liveloop.core.errors import Conflict
from liveloop.customers import service as customers_service
from liveloop.events.models import Event
from liveloop.live.mic import service
from liveloop.live.mic.models import MicRequest
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests.factories.live import make_live_session
from tests.factories.shops import drop_shop
from tests.live.mic.conftest import ask, open_mic


async def _room_with_requests(database, guests: int, viewers: int):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="连麦测试店")
        room = await make_live_session(session, shop_id=shop.id, status="live")
        ids = await customers_service.insert_customer_rows(
            session=session, rows=[{"shop_id": shop.id} for _ in range(viewers)]
        )
        await open_mic(session, system_actor(shop.id), room.id, guests=guests)
        requests = [await ask(session, shop.id, room.id, customer_id) for customer_id in ids]
        await session.commit()
    return shop, room, [r.id for r in requests]


async def _accept(database, shop_id: int, request_id: int) -> str:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        try:
            await service.accept_request(
                session=session, actor=system_actor(shop_id), request_id=request_id
            )
            await session.commit()
            return "ok"
        except Conflict as error:
            await session.rollback()
            return error.code


async def _drop(database, shop_id: int) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await session.execute(delete(Event).where(Event.shop_id == shop_id))  # no foreign key
        await drop_shop(session, shop_id)
        await session.commit()


async def test_two_accepts_of_one_request_take_one_seat(database) -> None:  # type: ignore[no-untyped-def]
    shop, _room, (request_id,) = await _room_with_requests(database, guests=3, viewers=1)
    try:
        results = await asyncio.gather(*(_accept(database, shop.id, request_id) for _ in range(4)))
        assert sorted(results) == ["mic_request_accepted"] * 3 + ["ok"]
        async with database.sessionmaker() as session:
            request = await session.get(MicRequest, request_id)
            assert request is not None and (request.status, request.seat) == ("accepted", 1)
    finally:
        await _drop(database, shop.id)


async def test_accepts_at_once_never_exceed_the_seats(database) -> None:  # type: ignore[no-untyped-def]
    shop, room, request_ids = await _room_with_requests(database, guests=2, viewers=6)
    try:
        results = await asyncio.gather(*(_accept(database, shop.id, rid) for rid in request_ids))
        assert Counter(results) == {"ok": 2, "mic_full": 4}
        async with database.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(MicRequest.status, MicRequest.seat).where(
                        MicRequest.live_session_id == room.id
                    )
                )
            ).all()
        assert sorted(seat for status, seat in rows if status == "accepted") == [1, 2]
        assert Counter(status for status, _ in rows) == {"accepted": 2, "requested": 4}
    finally:
        await _drop(database, shop.id)
