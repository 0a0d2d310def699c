"""Background jobs of commerce core: expire one unpaid order at its deadline, and a sweeper.

The per-order job is scheduled after the order commits; the sweeper runs every minute and
expires whatever the per-order job missed (the process died before enqueueing, the queue was
lost), so no stock stays held by an abandoned order for long. Both are idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from huey import crontab
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import orders
from liveloop.commerce.models import Order
from liveloop.core.database import utcnow
from liveloop.core.jobs import enqueue_after_commit, job

log = structlog.get_logger(__name__)

SWEEP_BATCH = 500
# A shipped order the buyer never confirms is completed this long after shipping (自动确认收货),
# so completion hooks (commission settling after the return window) always get their event.
AUTO_COMPLETE_AFTER = dt.timedelta(days=10)


@job(retries=5, retry_delay=30)
async def expire_order(*, session: AsyncSession, shop_id: int, order_id: int) -> bool:
    expired = await orders.expire_order(session=session, shop_id=shop_id, order_id=order_id)
    if expired:
        log.info("order_expired", shop_id=shop_id, order_id=order_id)
    return expired


async def sweep_expired_orders(*, session: AsyncSession, **_: Any) -> int:
    """Expire every unpaid order past its deadline (a batch per run); the count expired.
    Each order is expired in a savepoint so one failure does not keep the others."""
    count = 0
    for shop_id, order_id in await orders.due_for_expiry(session=session, limit=SWEEP_BATCH):
        try:
            async with session.begin_nested():
                if await orders.expire_order(session=session, shop_id=shop_id, order_id=order_id):
                    count += 1
        except Exception:
            log.exception("order_expiry_failed", shop_id=shop_id, order_id=order_id)
    if count:
        log.info("orders_swept", expired=count)
    return count


sweep_expired_orders_job = job(periodic=crontab(minute="*"))(sweep_expired_orders)


async def complete_shipped_orders(*, session: AsyncSession, **_: Any) -> int:
    """Complete orders shipped more than AUTO_COMPLETE_AFTER ago; the count completed."""
    count = 0
    for shop_id, order_id in await orders.due_for_completion(
        session=session, shipped_before=utcnow() - AUTO_COMPLETE_AFTER, limit=SWEEP_BATCH
    ):
        try:
            async with session.begin_nested():
                await orders.complete_order(
                    session=session, shop_id=shop_id, order_id=order_id, actor_label="system"
                )
                count += 1
        except Exception:
            log.exception("order_completion_failed", shop_id=shop_id, order_id=order_id)
    return count


complete_shipped_orders_job = job(periodic=crontab(minute="17"))(complete_shipped_orders)


def schedule_expiry(session: AsyncSession, order: Order) -> None:
    """Enqueue the order's expiry for its deadline, once the placing transaction commits."""
    enqueue_after_commit(
        session, expire_order, eta=order.expires_at, shop_id=order.shop_id, order_id=order.id
    )
