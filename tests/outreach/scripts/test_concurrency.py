"""Many agents using one entry at once on separate connections, committing for real
(PostgreSQL in CI; SQLite runs it too, one writer at a time): every committed use is counted,
none is lost to a read-then-write race.

Not the rolled-back `session` fixture: the test makes its own shop and deletes it."""

from __future__ import annotations

import asyncio
from collections import Counter

from liveloop.outreach.scripts import service
from liveloop.outreach.scripts.schemas import EntryIn
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.shops import drop_shop

USES = 30


async def test_concurrent_uses_are_all_counted(database) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="话术并发店")
        actor = system_actor(shop.id)
        fan = await factories.make_customer(session, shop_id=shop.id, name="林青")
        entry = await service.create_entry(
            session=session,
            actor=actor,
            data=EntryIn(title="发货时间", text="{客户昵称}，48小时内发货"),
        )
        await session.commit()

    async def use() -> str:
        async with database.sessionmaker() as session:
            try:
                used = await service.use_entry(
                    session=session, actor=actor, entry_id=entry.id, customer_id=fan.id
                )
                await session.commit()
                assert used.text == "林青，48小时内发货"
                return "ok"
            except Exception as error:  # SQLite: "database is locked" under contention
                await session.rollback()
                return type(error).__name__

    try:
        outcomes = Counter(await asyncio.gather(*(use() for _ in range(USES))))
        async with database.sessionmaker() as session:
            stored = await service.access_entry(session=session, actor=actor, entry_id=entry.id)
        assert set(outcomes) <= {"ok", "OperationalError"}
        assert stored.usage_count == outcomes["ok"] >= 1
        assert stored.last_used_at is not None
        if database.engine.dialect.name == "postgresql":
            assert outcomes["ok"] == USES
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
