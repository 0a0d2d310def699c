"""Both sides writing at once on separate connections: no lost unread counts, and a send
retried from two tabs with one client id is stored once."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, select

from liveloop.customers import service as customers_service
from liveloop.events.models import Event
from liveloop.live.servicechat import service
from liveloop.live.servicechat.models import ServiceConversation, ServiceMessage
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests.factories.shops import drop_shop


async def test_counts_hold_when_both_sides_write_at_once(database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "MESSAGES_PER_WINDOW", 100)
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="客服并发店")
        (customer_id,) = await customers_service.insert_customer_rows(
            session=session, rows=[{"shop_id": shop.id}]
        )
        conversation, _ = await service.open_conversation(
            session=session, shop_id=shop.id, customer_id=customer_id, live_session_id=None
        )
        await session.commit()
    try:

        async def customer_writes(n: int, client_id: str | None = None) -> None:
            async with database.sessionmaker() as session:
                await service.send_customer_message(
                    session=session, shop_id=shop.id, conversation_id=conversation.id,
                    customer_id=customer_id, text=f"问题 {n}", client_id=client_id,
                )  # fmt: skip
                await session.commit()

        async def agent_replies(n: int) -> None:
            async with database.sessionmaker() as session:
                await service.reply(
                    session=session, actor=system_actor(shop.id),
                    conversation_id=conversation.id, text=f"回答 {n}",
                )  # fmt: skip
                await session.commit()

        writes = [customer_writes(n) for n in range(6)] + [agent_replies(n) for n in range(4)]
        writes += [customer_writes(99, client_id="tab-retry") for _ in range(3)]
        await asyncio.gather(*writes)
        async with database.sessionmaker() as session:
            stored = await session.get(ServiceConversation, conversation.id)
            counts = dict(
                (
                    await session.execute(
                        select(ServiceMessage.sender, func.count())
                        .where(ServiceMessage.conversation_id == conversation.id)
                        .group_by(ServiceMessage.sender)
                    )
                ).all()
            )
        assert counts == {"customer": 7, "agent": 4}  # the retried send is one message
        assert stored is not None and stored.customer_unread == 4
        # Each reply read what came before it; what the customer wrote after the last reply
        # is still unread, never more than they wrote.
        assert 0 <= stored.agent_unread <= 7
    finally:
        async with database.sessionmaker() as session:
            await session.execute(delete(Event).where(Event.shop_id == shop.id))
            await drop_shop(session, shop.id)
            await session.commit()
