"""Helpers of the mic tests: a live room with its mic open, viewers who ask."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.live.mic import service
from liveloop.live.mic.schemas import MicSettingsIn
from tests.commerce.conftest import viewer_token


async def open_mic(session: AsyncSession, actor: Any, live_session_id: int, guests: int = 1) -> Any:
    return await service.configure_mic(
        session=session,
        actor=actor,
        live_session_id=live_session_id,
        data=MicSettingsIn(is_open=True, max_guests=guests),
    )


async def ask(
    session: AsyncSession, shop_id: int, live_session_id: int, customer_id: int, note: str = ""
) -> Any:
    request, _ = await service.request_mic(
        session=session,
        shop_id=shop_id,
        live_session_id=live_session_id,
        token_live_session_id=live_session_id,
        customer_id=customer_id,
        device_id=f"device-{customer_id}",
        note=note,
    )
    return request


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The room messages the mic would send after commit (tests never commit)."""
    messages: list[dict[str, Any]] = []
    monkeypatch.setattr(
        service,
        "send_after_commit",
        lambda _session, *, live_session_id, message: messages.append(message),
    )
    return messages


def viewer_client(
    app: Any, settings: Any, shop_id: int, customer_id: int | None, room_id: int
) -> Any:
    token = viewer_token(
        settings, shop_id, customer_id, live_session_id=room_id, device_id=f"dev-{customer_id}"
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def make_mic_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A live room with an open mic and one waiting request (for the shop isolation test)."""
    from liveloop.shops.service import system_actor
    from tests import factories
    from tests.factories.live import make_live_session

    room = await make_live_session(session, shop_id=shop_id, status="live")
    fan = await factories.make_customer(session, shop_id=shop_id, name="隔壁麦友")
    await open_mic(session, system_actor(shop_id), room.id)
    request = await ask(session, shop_id, room.id, fan.id)
    return {"request_id": request.id}
