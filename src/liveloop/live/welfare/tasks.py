"""Background jobs of welfare offers: take an offer down when its duration ends; sweep missed ones."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job
from liveloop.live.welfare import service

log = structlog.get_logger(__name__)


@job(retries=5, retry_delay=5)
async def stop_offer_when_due(*, session: AsyncSession, shop_id: int, offer_id: int) -> str:
    """Idempotent: an offer already stopped (or not yet due) is left as it is."""
    offer = await service.stop_if_due(session=session, shop_id=shop_id, offer_id=offer_id)
    return offer.status


@job(periodic=crontab(minute="*"))
async def sweep_due_offers(*, session: AsyncSession) -> int:
    """Stop every running offer past its duration (a lost or failed stop job included)."""
    due = await service.due_offer_ids(session=session)
    for shop_id, offer_id in due:
        try:
            async with session.begin_nested():
                await service.stop_if_due(session=session, shop_id=shop_id, offer_id=offer_id)
        except Exception:
            log.exception("welfare_stop_failed", offer_id=offer_id)
    return len(due)
