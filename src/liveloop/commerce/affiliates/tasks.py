"""Background jobs of affiliates: settle commission whose return window is over."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.affiliates import service
from liveloop.core.jobs import job

log = structlog.get_logger(__name__)


@job(periodic=crontab(minute="*/10"))
async def settle_commissions(*, session: AsyncSession) -> int:
    """Idempotent: a settled commission is not pending any more, so a rerun settles nothing."""
    settled = await service.settle_due_commissions(session=session)
    if settled:
        log.info("commissions_settled", count=settled)
    return settled
