"""Repair of a flash sale's Redis counters from the database (the truth), after a crash
between a reservation and its commit, or a lost give-back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.flash.models import FlashReservation, FlashSale, FlashSaleStatus
from liveloop.commerce.flash.redis_lua import FlashCounters
from liveloop.commerce.flash.service import (
    _load_counters,
    _process_counters,
    _terms_from_db,
    get_flash_sale,
)
from liveloop.core.database import utcnow

STALE_RESERVATION = dt.timedelta(seconds=60)  # a Redis reservation older than this is settled


async def reconcile_flash_sale(
    *, session: AsyncSession, shop_id: int, flash_sale_id: int, counters: FlashCounters
) -> dict[str, int]:
    """Repair the Redis counters of one sale from the database (the truth): reservations
    pending longer than STALE_RESERVATION are confirmed when their row exists, else given
    back; then, if nothing is in flight and the counters drifted, they are reset."""
    sale = await get_flash_sale(session=session, shop_id=shop_id, flash_sale_id=flash_sale_id)
    stale = await counters.stale_tokens(
        shop_id=shop_id, sale_id=sale.id, older_than=utcnow() - STALE_RESERVATION
    )
    confirmed = given_back = 0
    for token, customer_id, quantity in stale:
        exists = (
            await session.execute(
                select(FlashReservation.id).where(FlashReservation.token == token)
            )
        ).scalar_one_or_none()
        if exists is not None:
            await counters.confirm(shop_id=shop_id, sale_id=sale.id, token=token)
            confirmed += 1
        else:
            await counters.cancel(
                shop_id=shop_id,
                sale_id=sale.id,
                customer_id=customer_id,
                quantity=quantity,
                token=token,
            )
            given_back += 1
    version = await counters.version(shop_id=shop_id, sale_id=sale.id)
    reset = 0
    if version is None:
        await _load_counters(session, counters, sale)
    else:
        terms = await _terms_from_db(session, sale)
        remaining = await counters.remaining(shop_id=shop_id, sale_id=sale.id)
        if remaining != terms.remaining:
            reset = int(await counters.reset(terms, version=version))
    return {"confirmed": confirmed, "given_back": given_back, "reset": reset}


async def reconcile_active_flash_sales(*, session: AsyncSession) -> int:
    counters = _process_counters()
    if counters is None:
        return 0
    rows = (
        await session.execute(
            select(FlashSale.shop_id, FlashSale.id).where(
                FlashSale.status == FlashSaleStatus.ACTIVE.value
            )
        )
    ).all()
    for shop_id, sale_id in rows:
        await reconcile_flash_sale(
            session=session, shop_id=shop_id, flash_sale_id=sale_id, counters=counters
        )
    return len(rows)
