"""Phone codes under real concurrent transactions: guesses in parallel get 5 tries between
them, and parallel sends to one phone text it once.

These tests do not use the rolled-back `session` fixture: they need real transactions racing
each other, so they create their own shop and delete it at the end.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from liveloop.core.errors import RateLimited
from liveloop.customers.phone_codes import service
from liveloop.customers.phone_codes.service import PhoneCodeRejected
from liveloop.customers.phone_codes.sms import DemoSmsSender
from liveloop.shops import service as shops_service
from tests.factories.shops import drop_shop as drop_shop_rows

PHONE = "13812340000"
DEVICE = "device-race-01"


async def make_shop(database) -> int:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="验证码并发店")
        await session.commit()
        return shop.id


async def drop_shop(database, shop_id: int) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await drop_shop_rows(session, shop_id)
        await session.commit()


async def test_parallel_wrong_guesses_get_five_tries_between_them(database) -> None:
    shop_id = await make_shop(database)
    try:
        async with database.sessionmaker() as session:
            sent = await service.send_phone_code(
                session=session,
                shop_id=shop_id,
                phone=PHONE,
                device_id=DEVICE,
                sender=DemoSmsSender(),
            )
            await session.commit()
        wrong = [f"{(int(sent.code) + n) % 1_000_000:06d}" for n in range(1, 13)]

        async def guess(code: str) -> str:
            async with database.sessionmaker() as session:
                try:
                    await service.verify_phone_code(
                        session=session,
                        shop_id=shop_id,
                        phone=PHONE,
                        code=code,
                        device_id=DEVICE,
                    )
                except PhoneCodeRejected as refused:
                    await session.commit()  # as the routes do: the count must stay
                    return refused.code
                await session.commit()
                return "accepted"

        outcomes = Counter(await asyncio.gather(*(guess(code) for code in wrong)))
        assert outcomes == {"phone_code_invalid": 4, "phone_code_locked": 8}
        async with database.sessionmaker() as session:
            (row,) = await service.codes_sent(session=session, shop_id=shop_id, phone=PHONE)
            assert row.attempts == 5 and row.verified_at is None
        assert await guess(sent.code) == "phone_code_locked"
    finally:
        await drop_shop(database, shop_id)


async def test_parallel_sends_to_one_phone_text_it_once(database) -> None:
    shop_id = await make_shop(database)
    try:

        async def send(n: int) -> str:
            async with database.sessionmaker() as session:
                try:
                    await service.send_phone_code(
                        session=session,
                        shop_id=shop_id,
                        phone=PHONE,
                        device_id=f"device-race-{n:02d}",
                        sender=DemoSmsSender(),
                    )
                except RateLimited as refused:
                    await session.rollback()
                    return refused.code
                await session.commit()
                return "sent"

        outcomes = Counter(await asyncio.gather(*(send(n) for n in range(8))))
        assert outcomes == {"sent": 1, "phone_code_too_soon": 7}
        async with database.sessionmaker() as session:
            assert len(await service.codes_sent(session=session, shop_id=shop_id, phone=PHONE)) == 1
    finally:
        await drop_shop(database, shop_id)
