"""Background jobs of analytics/realtime: rebuilding a big session's rollups, which would take
too long inside a dashboard's read (see analytics.realtime.rollups)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.realtime import rollups
from liveloop.core.jobs import enqueue_after_commit, job
from liveloop.live.models import LiveSession


@job(retries=2, retry_delay=60)
async def rebuild_rollups(*, session: AsyncSession, shop_id: int, live_session_id: int) -> bool:
    """Idempotent: a second run finds the rollups trusted and leaves them. True: it rebuilt."""
    state = await rollups.state_of(session, live_session_id)
    before = None if state is None else state.rebuilt_at
    await rollups.rebuild(session, shop_id=shop_id, live_session_id=live_session_id, force=False)
    state = await rollups.state_of(session, live_session_id)
    return state is not None and state.rebuilt_at != before


async def rebuild_in_background(session: AsyncSession, live_session: LiveSession) -> None:
    """Queue the session's rebuild (after the commit) unless one is queued already."""
    if await rollups.claim_rebuild(session, live_session):
        enqueue_after_commit(
            session, rebuild_rollups, shop_id=live_session.shop_id, live_session_id=live_session.id
        )
