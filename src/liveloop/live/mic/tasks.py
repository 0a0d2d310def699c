"""Background job of mic requests: close the mic of lives that ended with guests on it."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job
from liveloop.live.mic import service

log = structlog.get_logger(__name__)


@job(periodic=crontab(minute="*"))
async def close_mics_after_live(*, session: AsyncSession) -> int:
    """Every minute: a live that ended (or was cancelled) with its mic open or requests open
    gets them closed, the guests' time on mic ending when the live ended. Idempotent."""
    rooms = await service.rooms_to_close(session=session)
    for shop_id, live_session_id in rooms:
        try:
            async with session.begin_nested():
                await service.close_after_live(
                    session=session, shop_id=shop_id, live_session_id=live_session_id
                )
        except Exception:
            log.exception("mic_close_after_live_failed", live_session_id=live_session_id)
    return len(rooms)
