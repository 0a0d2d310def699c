"""The points catalogue (积分商城): coupons for points, redeemed in one transaction.

A redemption takes one unit of the item's stock (conditional UPDATE), spends the points
(conditional UPDATE of the balance) and grants the coupon through the coupons service; when
any step fails the caller's transaction rolls back and nothing happened. Rows are locked in
one order (item, then the customer's balance). Redeeming products (a 0-price order) is not
built: commerce's checkout owns orders; the catalogue holds coupons only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import get_scoped, scoped
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.customers.points import service as ledger
from liveloop.customers.points.models import Redemption, RedemptionItem
from liveloop.shops.service import Actor, record_audit


async def list_items(
    *, session: AsyncSession, shop_id: int, active_only: bool = False
) -> list[RedemptionItem]:
    statement = scoped(RedemptionItem, shop_id).order_by(RedemptionItem.position, RedemptionItem.id)
    if active_only:
        statement = statement.where(RedemptionItem.is_active)
    return list((await session.execute(statement)).scalars().all())


async def get_item(*, session: AsyncSession, shop_id: int, item_id: int) -> RedemptionItem:
    return await get_scoped(
        session, RedemptionItem, shop_id=shop_id, record_id=item_id, label="redemption_item"
    )


async def create_item(
    *, session: AsyncSession, actor: Actor, values: dict[str, Any]
) -> RedemptionItem:
    from liveloop.commerce.coupons import service as coupons_service

    await coupons_service.get_coupon(
        session=session, shop_id=actor.shop_id, coupon_id=values["coupon_id"]
    )
    item = RedemptionItem(shop_id=actor.shop_id, **values)
    session.add(item)
    await session.flush()
    await _audit(session, actor, "points.item.create", item.id, values)
    return item


async def update_item(
    *, session: AsyncSession, actor: Actor, item_id: int, changes: dict[str, Any]
) -> RedemptionItem:
    from liveloop.commerce.coupons import service as coupons_service

    item = await get_item(session=session, shop_id=actor.shop_id, item_id=item_id)
    if "coupon_id" in changes:
        await coupons_service.get_coupon(
            session=session, shop_id=actor.shop_id, coupon_id=changes["coupon_id"]
        )
    if changes.get("stock") is not None and changes["stock"] < item.redeemed_count:
        raise InvalidInput(
            f"stock cannot go below the {item.redeemed_count} already redeemed",
            code="below_redeemed",
            field="stock",
        )
    for name, value in changes.items():
        setattr(item, name, value)
    await session.flush()
    await _audit(session, actor, "points.item.update", item.id, changes)
    return item


async def delete_item(*, session: AsyncSession, actor: Actor, item_id: int) -> None:
    """Items already redeemed are kept (their redemptions point at them): they are switched
    off instead."""
    item = await get_item(session=session, shop_id=actor.shop_id, item_id=item_id)
    if item.redeemed_count:
        item.is_active = False
        await session.flush()
    else:
        await session.execute(delete(RedemptionItem).where(RedemptionItem.id == item.id))
    await _audit(session, actor, "points.item.delete", item_id, {"title": item.title})


async def _audit(
    session: AsyncSession, actor: Actor, action: str, item_id: int, details: dict[str, Any]
) -> None:
    await record_audit(
        session=session,
        actor=actor,
        action=action,
        target_type="points_redemption_item",
        target_id=item_id,
        details=details,
    )


async def redeem(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    item_id: int,
    idempotency_key: str | None = None,
) -> Redemption:
    """Spend points on a catalogue item. A repeat with the same key returns the first
    redemption. Conflict: item off or sold out (`sold_out`), too few points
    (`insufficient_points`), the coupon cannot be granted (its own code)."""
    from liveloop.commerce.coupons import service as coupons_service

    key = f"redeem:{customer_id}:{idempotency_key}" if idempotency_key else None
    if key is not None:
        first = (
            await session.execute(
                scoped(Redemption, shop_id).where(Redemption.idempotency_key == key)
            )
        ).scalar_one_or_none()
        if first is not None:
            return first
    item = await get_item(session=session, shop_id=shop_id, item_id=item_id)
    taken = (
        await session.execute(
            update(RedemptionItem)
            .where(
                RedemptionItem.id == item.id,
                RedemptionItem.shop_id == shop_id,
                RedemptionItem.is_active,
                or_(
                    RedemptionItem.stock.is_(None),
                    RedemptionItem.redeemed_count < RedemptionItem.stock,
                ),
            )
            .values(redeemed_count=RedemptionItem.redeemed_count + 1)
            .returning(RedemptionItem.redeemed_count)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if taken is None:
        reason = "is switched off" if not item.is_active else "is sold out"
        raise Conflict(f"{item.title} {reason}", code="sold_out", field="item_id")
    entry = await ledger.spend_points(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        points=item.points_price,
        reason="redeem",
        ref_type="redemption_item",
        ref_id=item.id,
        idempotency_key=f"{key}:spend" if key else None,
    )
    issued = await coupons_service.grant_coupon(
        session=session,
        shop_id=shop_id,
        coupon_id=item.coupon_id,
        customer_id=customer_id,
        reason=f"points redemption: {item.title}",
    )
    redemption = Redemption(
        shop_id=shop_id,
        item_id=item.id,
        customer_id=customer_id,
        points=item.points_price,
        entry_id=entry.id,
        customer_coupon_id=issued.id,
        idempotency_key=key,
    )
    savepoint = await session.begin_nested()
    session.add(redemption)
    try:
        await session.flush()
    except IntegrityError:
        # The same key redeemed at this very moment by another request: that one counts.
        await savepoint.rollback()
        raise Conflict(
            "this redemption is already being made; reload to see it",
            code="redemption_in_progress",
            field="idempotency_key",
        ) from None
    await savepoint.commit()
    await session.refresh(item, attribute_names=["redeemed_count"])
    return redemption


async def list_redemptions(
    *, session: AsyncSession, shop_id: int, customer_id: int, limit: int = 50
) -> list[Redemption]:
    statement = (
        scoped(Redemption, shop_id)
        .where(Redemption.customer_id == customer_id)
        .order_by(Redemption.id.desc())
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars().all())
