"""Background jobs of lotteries: draw when the entry window has closed; sweep missed draws."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job
from liveloop.live.lottery import service

log = structlog.get_logger(__name__)


@job(retries=5, retry_delay=5)
async def draw_lottery_when_due(*, session: AsyncSession, shop_id: int, lottery_id: int) -> str:
    """Idempotent: a lottery already drawn or cancelled (or not yet due) is left as it is."""
    lottery = await service.draw_lottery(session=session, shop_id=shop_id, lottery_id=lottery_id)
    return lottery.status


@job(periodic=crontab(minute="*"))
async def sweep_due_lotteries(*, session: AsyncSession) -> int:
    """Draw every running lottery past its window (a lost or failed draw job included)."""
    due = await service.due_lottery_ids(session=session)
    for shop_id, lottery_id in due:
        try:
            async with session.begin_nested():
                await service.draw_lottery(session=session, shop_id=shop_id, lottery_id=lottery_id)
        except Exception:
            log.exception("lottery_draw_failed", lottery_id=lottery_id)
    return len(due)
