"""Factories of the live domain: sessions (in any state), built through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession
from liveloop.live.schemas import LiveSessionCreate
from liveloop.shops.service import Actor, system_actor

__all__ = ["make_live_session"]


async def make_live_session(
    session: AsyncSession,
    *,
    shop_id: int,
    title: str = "周五上新专场",
    status: str = "scheduled",
    planned_start: dt.datetime | None = None,
    anchor_id: int | None = None,
    product_ids: Sequence[int] = (),
    actor: Actor | None = None,
) -> LiveSession:
    """A session created through the service, then moved to `status` the way staff would."""
    actor = actor or system_actor(shop_id, label="factory")
    live_session = await live_service.create_live_session(
        session=session,
        actor=actor,
        data=LiveSessionCreate(
            title=title,
            anchor_id=anchor_id,
            planned_start=planned_start or utcnow() + dt.timedelta(days=1),
            product_ids=list(product_ids),
        ),
    )
    if status in ("live", "ended"):
        await live_service.start_live_session(
            session=session, actor=actor, live_session_id=live_session.id
        )
    if status == "ended":
        await live_service.end_live_session(
            session=session, actor=actor, live_session_id=live_session.id
        )
    if status == "cancelled":
        await live_service.cancel_live_session(
            session=session, actor=actor, live_session_id=live_session.id
        )
    return live_session
