"""Background jobs of communities: the nightly group-tier promotion run."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.jobs import job
from liveloop.customers.communities import service

log = structlog.get_logger(__name__)


@job(periodic=crontab(hour="3", minute="20"))
async def run_community_promotions(*, session: AsyncSession) -> int:
    """Every active rule of every shop. Idempotent: a promotion is recorded once per rule and
    customer, so a rerun promotes nobody twice."""
    promoted = 0
    for shop_id, rule_id in await service.active_rule_ids(session=session):
        count = await service.run_promotion_rule(session=session, shop_id=shop_id, rule_id=rule_id)
        if count:
            log.info("community_members_promoted", shop_id=shop_id, rule_id=rule_id, count=count)
        promoted += count
    return promoted
