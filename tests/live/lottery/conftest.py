"""Helpers of the lottery tests: a live room, customers who comment, watch and like."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.events import service as events_service
from liveloop.live.lottery import service
from liveloop.live.lottery.schemas import LotteryIn
from liveloop.live.models import LiveViewer


async def comment(
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    customer_id: int,
    text: str,
    at: dt.datetime | None = None,
    **properties: Any,
) -> None:
    await events_service.ingest_events(
        session=session,
        shop_id=shop_id,
        items=[
            {
                "type": "live_comment",
                "customer_id": customer_id,
                "live_session_id": live_session_id,
                "occurred_at": (at or utcnow()).isoformat(),
                "properties": {"text": text, **properties},
            }
        ],
        mark_customers_active=False,
    )


async def visit(
    session: AsyncSession, shop_id: int, live_session_id: int, customer_id: int, *, likes: int = 0
) -> None:
    session.add(
        LiveViewer(
            shop_id=shop_id,
            live_session_id=live_session_id,
            viewer_key=f"c:{customer_id}",
            customer_id=customer_id,
            likes=likes,
        )
    )
    await session.flush()


async def start(session: AsyncSession, actor: Any, live_session_id: int, **fields: Any) -> Any:
    data = {
        "title": "整点福袋",
        "prize_kind": "points",
        "prize_points": 100,
        "winner_count": 1,
        "duration_seconds": 60,
        "condition": {"kind": "keyword", "keyword": "福袋来了"},
        **fields,
    }
    return await service.start_lottery(
        session=session, actor=actor, live_session_id=live_session_id, data=LotteryIn(**data)
    )


def after_window(lottery: Any) -> dt.datetime:
    return lottery.ends_at + dt.timedelta(seconds=service.DRAW_DELAY_S + 1)


async def make_lottery_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A drawn lottery with one winning entry in this shop (for the shop isolation test)."""
    from liveloop.shops.service import system_actor
    from tests import factories
    from tests.factories.live import make_live_session

    room = await make_live_session(session, shop_id=shop_id, status="live")
    fan = await factories.make_customer(session, shop_id=shop_id, name="隔壁粉丝")
    lottery = await start(session, system_actor(shop_id), room.id)
    await comment(session, shop_id, room.id, fan.id, "福袋来了")
    await service.draw_lottery(
        session=session, shop_id=shop_id, lottery_id=lottery.id, now=after_window(lottery)
    )
    (entry,) = await service.list_entries(session=session, shop_id=shop_id, lottery_id=lottery.id)
    return {"lottery_id": lottery.id, "entry_id": entry.id}
