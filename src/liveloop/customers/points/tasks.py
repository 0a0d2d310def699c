"""Background jobs of points and tiers: earn from events, expire, place customers in tiers."""

from __future__ import annotations

from huey import crontab
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job
from liveloop.customers.points import earning, service, tiers
from liveloop.customers.points.models import MemberTier


@job(periodic=crontab(minute="*"))
async def earn_points_from_events(*, session: AsyncSession) -> int:
    """Every minute: one batch of behaviour events after the cursor (the next run goes on)."""
    return await earning.earn_from_events(session=session)


@job(periodic=crontab(minute="7"))
async def expire_points(*, session: AsyncSession) -> int:
    """Hourly: write the expiry of points past their date (idempotent)."""
    return await service.expire_due_points(session=session)


@job(periodic=crontab(hour="3", minute="17"))
async def recompute_all_tiers(*, session: AsyncSession) -> int:
    """Nightly: place every customer of every shop that has tiers (downgrades after grace)."""
    shop_ids = (await session.execute(select(MemberTier.shop_id).distinct())).scalars().all()
    for shop_id in shop_ids:
        await tiers.recompute_tiers(session=session, shop_id=shop_id)
    return len(shop_ids)


@job()
async def recompute_shop_tiers(*, session: AsyncSession, shop_id: int) -> dict[str, int]:
    return await tiers.recompute_tiers(session=session, shop_id=shop_id)
