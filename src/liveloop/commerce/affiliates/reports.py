"""Settling commission after the return window, and what the console shows and exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.affiliates.models import (
    AffiliateOrder,
    Commission,
    CommissionStatus,
)
from liveloop.commerce.affiliates.profiles import get_settings, list_affiliates
from liveloop.core.database import scoped, utcnow
from liveloop.core.errors import InvalidInput
from liveloop.shops.service import Actor, record_audit

SETTLE_BATCH = 500


# --------------------------------------------------------------------------------- settlement


async def settle_due_commissions(*, session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Settle every pending commission whose return window is over; returns how many.

    Orders shipped but never confirmed get their window from the ship date (ship_settle_days).
    """
    now = now or utcnow()
    await _date_shipped_orders(session, now)
    result = await session.execute(
        update(Commission)
        .where(
            Commission.status == CommissionStatus.PENDING.value,
            Commission.settle_after.is_not(None),
            Commission.settle_after <= now,
        )
        .values(status=CommissionStatus.SETTLED.value, settled_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _date_shipped_orders(session: AsyncSession, now: dt.datetime) -> None:
    from liveloop.commerce import orders as orders_service

    rows = (
        await session.execute(
            select(Commission.shop_id, Commission.order_id)
            .where(
                Commission.status == CommissionStatus.PENDING.value,
                Commission.settle_after.is_(None),
            )
            .distinct()
            .limit(SETTLE_BATCH)
        )
    ).all()
    for shop_id, order_id in rows:
        order = await orders_service.get_order(session=session, shop_id=shop_id, order_id=order_id)
        settings = await get_settings(session=session, shop_id=shop_id)
        if order.completed_at is not None:
            due = order.completed_at + dt.timedelta(days=settings.return_window_days)
        elif order.shipped_at is not None:
            due = order.shipped_at + dt.timedelta(days=settings.ship_settle_days)
        else:
            continue
        await session.execute(
            update(Commission)
            .where(
                Commission.shop_id == shop_id,
                Commission.order_id == order_id,
                Commission.status == CommissionStatus.PENDING.value,
                Commission.settle_after.is_(None),
            )
            .values(settle_after=due)
            .execution_options(synchronize_session=False)
        )


# -------------------------------------------------------------------------------- reporting


async def summaries(*, session: AsyncSession, shop_id: int) -> list[dict[str, Any]]:
    """Per affiliate: orders, GMV (paid orders), commission pending / settled / reversed."""
    affiliates = await list_affiliates(session=session, shop_id=shop_id)
    order_rows = (
        await session.execute(
            scoped(
                AffiliateOrder,
                shop_id,
                AffiliateOrder.affiliate_id,
                func.count(),
                func.coalesce(
                    func.sum(
                        case(
                            (
                                AffiliateOrder.order_status.in_(
                                    ("cancelled", "expired", "pending_payment")
                                ),
                                0,
                            ),
                            else_=AffiliateOrder.gmv_fen,
                        )
                    ),
                    0,
                ),
            ).group_by(AffiliateOrder.affiliate_id)
        )
    ).all()
    commission_rows = (
        await session.execute(
            scoped(
                Commission,
                shop_id,
                Commission.affiliate_id,
                Commission.status,
                func.coalesce(func.sum(Commission.amount_fen - Commission.reversed_fen), 0),
                func.coalesce(func.sum(Commission.reversed_fen), 0),
            ).group_by(Commission.affiliate_id, Commission.status)
        )
    ).all()
    orders = {row[0]: (int(row[1]), int(row[2])) for row in order_rows}
    money: dict[int, dict[str, int]] = {}
    for affiliate_id, status, owed, taken_back in commission_rows:
        entry = money.setdefault(affiliate_id, {"pending": 0, "settled": 0, "reversed": 0})
        if status in ("pending", "settled"):
            entry[status] += int(owed)
        entry["reversed"] += int(taken_back)
    result = []
    for affiliate in affiliates:
        count, gmv = orders.get(affiliate.id, (0, 0))
        entry = money.get(affiliate.id, {"pending": 0, "settled": 0, "reversed": 0})
        result.append(
            {
                "affiliate": affiliate,
                "orders": count,
                "gmv_fen": gmv,
                "pending_fen": entry["pending"],
                "settled_fen": entry["settled"],
                "reversed_fen": entry["reversed"],
            }
        )
    return result


def affiliate_orders_query(*, shop_id: int, affiliate_id: int) -> Any:
    return (
        scoped(AffiliateOrder, shop_id)
        .where(AffiliateOrder.affiliate_id == affiliate_id)
        .order_by(AffiliateOrder.id.desc())
    )


def commissions_query(
    *, shop_id: int, affiliate_id: int | None = None, status: str | None = None
) -> Any:
    statement = scoped(Commission, shop_id).order_by(Commission.id)
    if affiliate_id is not None:
        statement = statement.where(Commission.affiliate_id == affiliate_id)
    if status:
        if status not in {s.value for s in CommissionStatus}:
            raise InvalidInput(
                f"status {status!r} is not one of pending, settled, reversed", field="status"
            )
        statement = statement.where(Commission.status == status)
    return statement


SETTLEMENT_COLUMNS = (
    "commission_id",
    "affiliate_id",
    "affiliate",
    "order_id",
    "order_number",
    "order_line_id",
    "product_id",
    "base_fen",
    "rate_bp",
    "amount_fen",
    "reversed_fen",
    "owed_fen",
    "status",
    "settled_at",
)


async def settlement_rows(
    *, session: AsyncSession, actor: Actor, affiliate_id: int | None, status: str | None
) -> list[list[Any]]:
    """Rows of the settlement export (audited): one per commission line."""
    names = {a.id: a.name for a in await list_affiliates(session=session, shop_id=actor.shop_id)}
    numbers = dict(
        (
            await session.execute(
                scoped(
                    AffiliateOrder,
                    actor.shop_id,
                    AffiliateOrder.order_id,
                    AffiliateOrder.order_number,
                )
            )
        ).all()
    )
    statement = commissions_query(shop_id=actor.shop_id, affiliate_id=affiliate_id, status=status)
    commissions = (await session.execute(statement)).scalars().all()
    await record_audit(
        session=session,
        actor=actor,
        action="affiliates.export",
        target_type="affiliate" if affiliate_id else "shop",
        target_id=affiliate_id or actor.shop_id,
        details={"status": status, "rows": len(commissions)},
    )
    return [
        [
            c.id,
            c.affiliate_id,
            names.get(c.affiliate_id, ""),
            c.order_id,
            numbers.get(c.order_id, ""),
            c.order_line_id,
            c.product_id,
            c.base_fen,
            c.rate_bp,
            c.amount_fen,
            c.reversed_fen,
            c.owed_fen,
            c.status,
            c.settled_at.isoformat() if c.settled_at else "",
        ]
        for c in commissions
    ]
