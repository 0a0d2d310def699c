"""Background jobs of group buy: close a group at its deadline; sweep any that were missed."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.groupbuy import service
from liveloop.core.jobs import job

log = structlog.get_logger(__name__)


@job(retries=5, retry_delay=30)
async def close_group_at_deadline(*, session: AsyncSession, shop_id: int, group_id: int) -> str:
    """Idempotent: a group that is no longer open (or not yet due) is left as it is."""
    return await service.close_group(session=session, shop_id=shop_id, group_id=group_id)


@job(periodic=crontab(minute="*"))
async def sweep_due_groups(*, session: AsyncSession) -> int:
    """Close every open group past its deadline (a lost or failed deadline job included)."""
    due = await service.due_group_ids(session=session)
    for shop_id, group_id in due:
        try:
            async with session.begin_nested():
                await service.close_group(session=session, shop_id=shop_id, group_id=group_id)
        except Exception:
            # One group whose refund fails must not hold up the others; it is retried next run.
            log.exception("group_close_failed", group_id=group_id)
    if due:
        log.info("groups_swept", count=len(due))
    return len(due)
