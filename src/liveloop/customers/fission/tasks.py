"""Background jobs of fission: decide pending invites (the 24 h community stay)."""

from __future__ import annotations

from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job
from liveloop.customers.fission import service


@job(periodic=crontab(minute="*/10"))
async def qualify_fission_invites(*, session: AsyncSession) -> int:
    """Idempotent: an invite moves out of pending once, by a conditional UPDATE."""
    return await service.qualify_due_invites(session=session)
