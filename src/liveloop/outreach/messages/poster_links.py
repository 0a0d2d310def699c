"""Drawing a session's poster for a link: the session's words and cover, off the event loop."""

from __future__ import annotations

from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.live.models import LiveSession
from liveloop.outreach.messages.contexts import live_values
from liveloop.outreach.messages.poster import LivePoster, poster_png
from liveloop.shops.models import Shop


async def poster_for_session(
    *, session: AsyncSession, settings: Any, live_session: LiveSession, link: str
) -> bytes:
    shop = await session.get(Shop, live_session.shop_id)
    assert shop is not None  # a session belongs to a shop (foreign key)
    live, _products = await live_values(
        session=session, shop=shop, live_session=live_session, with_products=False
    )
    cover = None
    if live_session.cover_path:
        media = settings.resolved_media_dir.resolve()
        candidate = (media / live_session.cover_path).resolve()
        cover = candidate if candidate.is_relative_to(media) else None
    poster = LivePoster(
        title=live["title"],
        starts_at=live["starts_at"],
        link=link,
        shop_name=shop.name,
        anchor=live["anchor"],
        cover=cover,
    )
    return await anyio.to_thread.run_sync(poster_png, poster)
