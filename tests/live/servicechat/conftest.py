"""Helpers of the customer-service tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.live.servicechat import service
from tests.commerce.conftest import viewer_token


def viewer_client(
    app: Any, settings: Any, shop_id: int, customer_id: int | None, room_id: int | None
) -> Any:
    token = viewer_token(settings, shop_id, customer_id, live_session_id=room_id)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def make_servicechat_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A conversation opened from a live room with one customer message (shop isolation)."""
    from tests import factories
    from tests.factories.live import make_live_session

    room = await make_live_session(session, shop_id=shop_id, status="live")
    fan = await factories.make_customer(session, shop_id=shop_id, name="隔壁顾客")
    conversation, _ = await service.open_conversation(
        session=session, shop_id=shop_id, customer_id=fan.id, live_session_id=room.id
    )
    await service.send_customer_message(
        session=session, shop_id=shop_id, conversation_id=conversation.id,
        customer_id=fan.id, text="在吗？",
    )  # fmt: skip
    return {"conversation_id": conversation.id}
