"""Background jobs of outreach/consent: reminders of reserved sessions and channel-code
welcomes, every minute."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.core.jobs import job, queue
from liveloop.outreach.consent import reminders

log = structlog.get_logger(__name__)


@job(retries=0, periodic=crontab(minute="*"))
async def send_due_reminders(*, session: AsyncSession) -> int:
    """Every minute, per shop: claim what is due and COMMIT the claims, then send them and
    commit the outcome. Claims are unique per (kind, reservation), so two workers never send
    the same reminder; claims a crash left unsent are picked up again after ten minutes."""
    settings = queue.settings
    assert settings is not None
    now = utcnow()
    total = 0
    for shop_id in await reminders.shops_with_reminders(session=session, now=now):
        due = await reminders.due_reminders(session=session, shop_id=shop_id, now=now)
        claimed = await reminders.claim(session=session, shop_id=shop_id, due=due, now=now)
        claimed += await reminders.stale_claims(session=session, shop_id=shop_id, now=now)
        await session.commit()
        if not claimed:
            continue
        try:
            total += await reminders.send_claimed(
                session=session, shop_id=shop_id, dispatch_ids=claimed, settings=settings, now=now
            )
        except Exception as exc:
            await session.rollback()
            log.error("reminders_failed", shop_id=shop_id, error=repr(exc))
            continue
        await session.commit()
    return total
