"""Background jobs of assist: close assists whose time ran out."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.assist import service
from liveloop.core.jobs import job


@job(periodic=crontab(minute="*"))
async def expire_assists(*, session: AsyncSession) -> int:
    """Idempotent: only open assists past their deadline move, once."""
    return await service.expire_due_assists(session=session)
