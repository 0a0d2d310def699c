"""Jobs of RFM, lifecycle and tag rules: the nightly full recompute and incremental updates.

- nightly (03:10 UTC): one job per shop recomputes RFM, then lifecycle (which reads RFM), then
  every enabled tag rule (whose conditions may read both).
- on a paid order (commerce hook order_paid): the buyer is re-evaluated once the payment
  commits (lifecycle stage and tag rules for that customer only).
- every 5 minutes: customers whose last_active_at moved since the previous sweep (events
  move it) are re-evaluated the same way, so event ingestion carries no extra work.
Every job is idempotent: a rerun over the same data changes nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog
from huey import crontab
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.core.database import scoped, utcnow
from liveloop.core.jobs import enqueue_after_commit, job
from liveloop.customers.models import STATUS_ACTIVE, Customer
from liveloop.customers.rfm import service as rfm_service
from liveloop.customers.tagrules import service as tagrules_service
from liveloop.shops import service as shops_service
from liveloop.shops.models import Shop

log = structlog.get_logger(__name__)

# Customers re-evaluated per shop per sweep; more wait for the next sweep (or the night).
SWEEP_LIMIT = 5000


@dataclass
class ShopRecompute:
    rfm: rfm_service.RfmStats
    lifecycle: rfm_service.LifecycleStats
    rules: list[tagrules_service.RuleRun]


async def recompute_shop(
    *, session: AsyncSession, shop_id: int, now: dt.datetime | None = None
) -> ShopRecompute:
    """The full nightly recompute of one shop, in dependency order (what bench/ times)."""
    now = now or utcnow()
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    stats = await rfm_service.recompute_rfm(session=session, shop_id=shop_id, now=now)
    stages = await rfm_service.recompute_lifecycle(session=session, shop_id=shop_id, now=now)
    rules = await tagrules_service.evaluate_all_rules(
        session=session, shop_id=shop_id, now=now, timezone=shop.timezone
    )
    return ShopRecompute(rfm=stats, lifecycle=stages, rules=rules)


async def reevaluate(
    *, session: AsyncSession, shop_id: int, customer_ids: list[int], now: dt.datetime | None = None
) -> None:
    """Lifecycle stage and tag rules of these customers only (RFM scores are relative to the
    whole shop and wait for the nightly run)."""
    if not customer_ids:
        return
    now = now or utcnow()
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    ids = sorted(set(customer_ids))
    await rfm_service.recompute_lifecycle(
        session=session, shop_id=shop_id, now=now, customer_ids=ids
    )
    await tagrules_service.evaluate_all_rules(
        session=session, shop_id=shop_id, now=now, customer_ids=ids, timezone=shop.timezone
    )


@job(retries=2, retry_delay=60)
async def recompute_shop_job(*, session: AsyncSession, shop_id: int) -> None:
    result = await recompute_shop(session=session, shop_id=shop_id)
    log.info(
        "private_domain_recomputed",
        shop_id=shop_id,
        customers=result.rfm.customers,
        stage_changes=result.lifecycle.changed,
        rules=len(result.rules),
    )


@job(periodic=crontab(hour="3", minute="10"))
async def nightly_recompute(*, session: AsyncSession, **_: Any) -> int:
    """Enqueue one recompute per shop (each its own transaction)."""
    shop_ids = list((await session.execute(select(Shop.id).order_by(Shop.id))).scalars())
    for shop_id in shop_ids:
        recompute_shop_job.enqueue(shop_id=shop_id)
    return len(shop_ids)


@job(retries=3, retry_delay=10)
async def reevaluate_customers(
    *, session: AsyncSession, shop_id: int, customer_ids: list[int]
) -> None:
    await reevaluate(session=session, shop_id=shop_id, customer_ids=customer_ids)


async def sweep_recently_active(
    *, session: AsyncSession, now: dt.datetime | None = None, **_: Any
) -> int:
    """Re-evaluate customers active since each shop's previous sweep; returns how many."""
    now = now or utcnow()
    total = 0
    for shop_id in list((await session.execute(select(Shop.id).order_by(Shop.id))).scalars()):
        settings = await rfm_service.get_settings(session=session, shop_id=shop_id)
        since = settings.swept_at or now - dt.timedelta(minutes=5)
        rows = (
            await session.execute(
                scoped(Customer, shop_id, Customer.id, Customer.last_active_at)
                .where(
                    Customer.status == STATUS_ACTIVE,
                    Customer.last_active_at >= since,
                    Customer.last_active_at <= now,
                )
                .order_by(Customer.last_active_at)
                .limit(SWEEP_LIMIT)
            )
        ).all()
        ids = [customer_id for customer_id, _ in rows]
        await reevaluate(session=session, shop_id=shop_id, customer_ids=ids, now=now)
        # A full batch: the rest are picked up from where this one stopped.
        settings.swept_at = rows[-1][1] if len(rows) == SWEEP_LIMIT else now
        if settings.id is None:
            session.add(settings)
        await session.flush()
        total += len(ids)
    return total


sweep_recently_active_job = job(periodic=crontab(minute="*/5"))(sweep_recently_active)


@hooks.on("order_paid")
async def reevaluate_buyer(*, session: AsyncSession, order: Any, **_: Any) -> None:
    if order.customer_id is not None:
        enqueue_after_commit(
            session,
            reevaluate_customers,
            shop_id=order.shop_id,
            customer_ids=[order.customer_id],
        )
