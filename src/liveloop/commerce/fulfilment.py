"""Fulfilment of paid orders: ship (tracking number), complete, and the refund bookkeeping
that commerce.payments records on the order."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import hooks
from liveloop.commerce.models import Order, OrderStatus
from liveloop.commerce.order_state import fen, lock_order, move
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.shops import service as shops_service
from liveloop.shops.service import Actor

S = OrderStatus


async def ship_order(
    *, session: AsyncSession, actor: Actor, order_id: int, carrier: str, tracking_number: str
) -> Order:
    if not tracking_number.strip():
        raise InvalidInput("tracking number is required", field="tracking_number")
    order = await lock_order(session, shop_id=actor.shop_id, order_id=order_id)
    if order.status == S.PARTIALLY_REFUNDED.value and order.shipped_at is not None:
        raise Conflict(
            f"order {order.number} was already shipped", code="invalid_order_state", field="status"
        )
    if order.kind == "group":
        await _check_group_confirmed(session, order)
    move(session, order, S.SHIPPED, actor_label=actor.label, note=f"{carrier} {tracking_number}")
    order.carrier = carrier.strip()[:50]
    order.tracking_number = tracking_number.strip()[:64]
    order.shipped_at = utcnow()
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="order.ship",
        target_type="order",
        target_id=order.id,
        details={
            "number": order.number,
            "carrier": order.carrier,
            "tracking": order.tracking_number,
        },
    )
    return order


async def _check_group_confirmed(session: AsyncSession, order: Order) -> None:
    """A group-buy order ships only once its group is confirmed: a group that is still open
    may yet fail, and then every paid member is refunded."""
    # Imported here: the group buy domain builds on orders, not the other way round.
    from liveloop.commerce.groupbuy import service as groupbuy

    group = await groupbuy.group_of_order(session=session, shop_id=order.shop_id, order_id=order.id)
    if group is None or group.status == "confirmed":
        return
    raise Conflict(
        f"order {order.number} belongs to group {group.code}, which is {group.status} "
        f"({group.paid_count} of {group.group_size} paid): ship it once the group is confirmed",
        code="group_not_confirmed",
        field="status",
    )


async def complete_order(
    *, session: AsyncSession, shop_id: int, order_id: int, actor_label: str
) -> Order:
    order = await lock_order(session, shop_id=shop_id, order_id=order_id)
    move(session, order, S.COMPLETED, actor_label=actor_label)
    order.completed_at = utcnow()
    await session.flush()
    await hooks.emit("order_completed", session=session, order=order)
    return order


async def record_refund(
    *,
    session: AsyncSession,
    shop_id: int,
    order_id: int,
    amount_fen: int,
    line_quantities: dict[int, int] | None = None,
    actor_label: str,
) -> Order:
    """Book a refund on the order (called by commerce.payments, which moves the money, gives
    stock back and emits "order_refunded"): refunded_fen, each line's refunded quantity
    (order line id → units), and the status refunded / partially_refunded."""
    order = await lock_order(session, shop_id=shop_id, order_id=order_id)
    left = order.paid_fen - order.refunded_fen
    if amount_fen <= 0 or amount_fen > left:
        raise InvalidInput(
            f"refund of {fen(amount_fen)} exceeds what is left to refund on order "
            f"{order.number} ({fen(left)} of {fen(order.paid_fen)} paid)",
            code="refund_exceeds_paid",
            field="amount_fen",
        )
    lines = {line.id: line for line in order.lines}
    for line_id, units in (line_quantities or {}).items():
        line = lines.get(line_id)
        if line is None or units <= 0 or line.refunded_quantity + units > line.quantity:
            raise InvalidInput(
                f"cannot refund {units} unit(s) of line {line_id} of order {order.number}",
                code="invalid_refund_quantity",
                field="lines",
            )
        line.refunded_quantity += units
    full = order.refunded_fen + amount_fen == order.paid_fen
    target = S.REFUNDED if full else S.PARTIALLY_REFUNDED
    move(session, order, target, actor_label=actor_label, note=fen(amount_fen))
    order.refunded_fen += amount_fen
    if full:
        order.closed_at = utcnow()
    await session.flush()
    return order
