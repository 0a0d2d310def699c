"""Orders: place, pay, cancel, expire; and, re-exported, reads, ship, complete and refunds.

Every status change goes through `order_state.move` (the state table in commerce.states),
writes a history row, emits the lifecycle hook inside the transaction and, after commit only,
the room messages and the expiry job. Stock: reserved at placement (conditional UPDATE, all lines or none),
counted as sold at payment, given back on expiry or cancellation.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.commerce import hooks
from liveloop.commerce.addresses import address_phone, get_address
from liveloop.commerce.checkout import (
    CheckoutLine,
    LineRequest,
    Quote,
    check_line_requests,
    coupons_service,
    quote_lines,
)
from liveloop.commerce.fulfilment import complete_order, record_refund, ship_order
from liveloop.commerce.idempotency import claim_key, complete_key
from liveloop.commerce.models import Order, OrderHistory, OrderKind, OrderLine, OrderStatus
from liveloop.commerce.order_state import (
    fen,
    get_customer_order,
    get_order,
    lock_order,
    mask_name,
    move,
    order_history,
    record_event,
    send_stock,
)
from liveloop.commerce.states import PAID_STATUSES
from liveloop.core.database import scoped, utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.settings import get_settings
from liveloop.customers.crypto import get_cipher
from liveloop.live.models import LiveSession
from liveloop.live.outbox import send_after_commit
from liveloop.shops import service as shops_service
from liveloop.shops.service import Actor

__all__ = [
    "PROVIDER_TIME_RESOLUTION",
    "LineRequest",
    "cancel_order",
    "complete_order",
    "due_for_completion",
    "due_for_expiry",
    "expire_order",
    "get_customer_order",
    "get_order",
    "mark_order_paid",
    "mask_name",
    "order_history",
    "place_order",
    "record_refund",
    "ship_order",
]

S = OrderStatus

# WeChat Pay and Alipay report the success time to the second.
PROVIDER_TIME_RESOLUTION = dt.timedelta(seconds=1)


# ----------------------------------------------------------------------------------- placing


def _check_expected(
    quote: Quote, *, expected_total_fen: int | None, expected_unit_prices: dict[int, int] | None
) -> None:
    """409 price_changed when the buyer saw other prices than those charged now."""
    changed: list[dict[str, Any]] = [
        {
            "code": "price_changed",
            "sku_id": line.sku.id,
            "name": f"{line.product.name} {line.sku.spec_label}".strip(),
            "expected_fen": expected_unit_prices[line.sku.id],
            "price_fen": line.unit_price_fen,
            "message": f"{line.product.name} {line.sku.spec_label}".strip()
            + f" is now {fen(line.unit_price_fen)}"
            + f" (you saw {fen(expected_unit_prices[line.sku.id])})",
        }
        for line in quote.lines
        if expected_unit_prices
        and line.sku.id in expected_unit_prices
        and expected_unit_prices[line.sku.id] != line.unit_price_fen
    ]
    total = quote.breakdown.total_fen
    if changed or (expected_total_fen is not None and expected_total_fen != total):
        summary = "; ".join(c["message"] for c in changed) or (
            f"the total is now {fen(total)} (you saw {fen(expected_total_fen or 0)})"
        )
        raise Conflict(
            f"prices changed since you looked: {summary}; check the new total and order again",
            code="price_changed",
            field="lines",
            details=changed or [{"code": "price_changed", "total_fen": total}],
        )


async def _check_live_session(session: AsyncSession, *, shop_id: int, live_session_id: int) -> None:
    # Read-only check of the live domain's table: an order may only name this shop's session.
    found = (
        await session.execute(
            scoped(LiveSession, shop_id, LiveSession.id).where(LiveSession.id == live_session_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            f"live session {live_session_id} was not found",
            code="live_session_not_found",
            field="live_session_id",
        )


async def _order_number(session: AsyncSession, order: Order) -> str:
    """Date in the shop's time zone + the order id: '20261123000042' (unique, sortable)."""
    shop = await shops_service.get_shop(session=session, shop_id=order.shop_id)
    local = (order.created_at or utcnow()).astimezone(ZoneInfo(shop.timezone))
    return f"{local:%Y%m%d}{order.id:06d}"


def _order_line(order: Order, line: CheckoutLine) -> OrderLine:
    return OrderLine(
        shop_id=order.shop_id,
        order_id=order.id,
        sku_id=line.sku.id,
        product_id=line.product.id,
        category_id=line.product.category_id,
        product_name=line.product.name,
        sku_name=line.sku.spec_label,
        sku_code=line.sku.code,
        image_path=line.image_path,
        unit_price_fen=line.unit_price_fen,
        quantity=line.quantity,
        line_total_fen=line.line_total_fen,
        discount_fen=line.discount_fen,
    )


async def place_order(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    lines: Sequence[LineRequest],
    address_id: int | None,
    customer_coupon_id: int | None = None,
    live_session_id: int | None = None,
    source_code: str = "",
    share_code: str = "",
    idempotency_key: str | None = None,
    price_overrides: dict[int, int] | None = None,
    kind: str = "normal",
    stock_already_reserved: bool = False,
    attribution: dict[str, Any] | None = None,
    expected_total_fen: int | None = None,
    expected_unit_prices: dict[int, int] | None = None,
    buyer_note: str = "",
    payment_minutes: int | None = None,
) -> Order:
    """Create a pending-payment order, all or nothing (one savepoint): lines checked and
    priced (commerce.checkout), prices the buyer saw compared, stock reserved for every line
    (one error listing each short line), the coupon locked, hooks and analytics events
    written. A repeated `idempotency_key` returns the first order. After commit: the expiry
    job, and for a live session the order ticker and the new stock of each SKU."""
    try:
        order_kind = OrderKind(kind)
    except ValueError:
        raise InvalidInput(f"unknown order kind {kind!r}", code="invalid_kind", field="kind")
    wanted = check_line_requests(lines)
    body = {
        "lines": [[line.sku_id, line.quantity] for line in wanted],
        "address_id": address_id,
        "customer_coupon_id": customer_coupon_id,
        "live_session_id": live_session_id,
        "kind": order_kind.value,
        "expected_total_fen": expected_total_fen,
    }
    async with session.begin_nested():
        claim = await claim_key(
            session=session,
            shop_id=shop_id,
            scope=f"order:{customer_id}",
            key=idempotency_key,
            body=body,
        )
        if claim.replay_id is not None:
            return await get_order(session=session, shop_id=shop_id, order_id=claim.replay_id)
        quote = await quote_lines(
            session=session,
            shop_id=shop_id,
            customer_id=customer_id,
            lines=wanted,
            customer_coupon_id=customer_coupon_id,
            suggest_coupon=False,
            strict_coupon=True,
            price_overrides=price_overrides,
        )
        _check_expected(
            quote, expected_total_fen=expected_total_fen, expected_unit_prices=expected_unit_prices
        )
        if live_session_id is not None:
            await _check_live_session(session, shop_id=shop_id, live_session_id=live_session_id)
        stock_left: dict[int, int] | None = None
        if not stock_already_reserved and any(c.sku.stock < c.quantity for c in quote.lines):
            # Sold out as far as this read can tell: reserve now, before writing anything, which
            # raises the one error listing every short line (or, if stock came back meanwhile,
            # simply succeeds). A stale "enough" is harmless: the UPDATE below decides.
            stock_left = await _reserve(session, shop_id=shop_id, quote=quote, reason="order")
        order = await _insert_order(
            session,
            shop_id=shop_id,
            customer_id=customer_id,
            quote=quote,
            kind=order_kind,
            address_id=address_id,
            live_session_id=live_session_id,
            source_code=source_code,
            share_code=share_code,
            attribution=attribution,
            stock_reserved=not stock_already_reserved,
            buyer_note=buyer_note,
            payment_minutes=payment_minutes,
        )
        coupons = coupons_service()
        if quote.customer_coupon_id is not None and coupons is not None:
            await coupons.lock_customer_coupon_for_order(
                session=session,
                shop_id=shop_id,
                customer_coupon_id=quote.customer_coupon_id,
                order_id=order.id,
            )
        await hooks.emit("order_placed", session=session, order=order)
        await record_event(session, order, "order_placed")
        # Last, so the SKU rows stay locked only from here to the commit.
        if not stock_already_reserved and stock_left is None:
            stock_left = await _reserve(
                session, shop_id=shop_id, quote=quote, reason=f"order {order.number}"
            )
        await complete_key(
            session=session, claim=claim, resource_type="order", resource_id=order.id
        )
    _announce_order(session, order, quote, stock_left or {})
    _schedule_expiry(session, order)
    if order.total_fen == 0:
        await mark_order_paid(
            session=session,
            shop_id=shop_id,
            order_id=order.id,
            amount_fen=0,
            paid_at=utcnow(),
            payment_ref="free",
        )
    return order


async def _reserve(
    session: AsyncSession, *, shop_id: int, quote: Quote, reason: str
) -> dict[int, int]:
    return await catalog_service.reserve_stock(
        session=session,
        shop_id=shop_id,
        lines=[(line.sku.id, line.quantity) for line in quote.lines],
        reason=reason,
    )


async def _insert_order(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    quote: Quote,
    kind: OrderKind,
    address_id: int | None,
    live_session_id: int | None,
    source_code: str,
    share_code: str,
    attribution: dict[str, Any] | None,
    stock_reserved: bool,
    buyer_note: str,
    payment_minutes: int | None,
) -> Order:
    minutes = payment_minutes or get_settings().order_payment_minutes
    now = utcnow()
    breakdown = quote.breakdown
    order = Order(
        shop_id=shop_id,
        number=f"new-{secrets.token_hex(8)}",
        customer_id=customer_id,
        status=S.PENDING_PAYMENT.value,
        kind=kind.value,
        items_total_fen=breakdown.items_fen,
        discount_fen=breakdown.discount_fen,
        shipping_fen=breakdown.shipping_fen,
        total_fen=breakdown.total_fen,
        customer_coupon_id=quote.customer_coupon_id,
        live_session_id=live_session_id,
        source_code=source_code[:32],
        share_code=share_code[:32],
        attribution=attribution or {},
        stock_reserved=stock_reserved,
        buyer_note=buyer_note[:200],
        created_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
    )
    if address_id is not None:
        address = await get_address(
            session=session, shop_id=shop_id, customer_id=customer_id, address_id=address_id
        )
        cipher = get_cipher()
        order.recipient_name = address.recipient_name
        order.recipient_phone_secret = cipher.encrypt(address_phone(address))
        order.recipient_phone_masked = address.phone_masked
        order.address_region = " ".join(
            p for p in (address.region, address.city, address.district) if p
        )
        order.address_detail_secret = address.detail_secret
    session.add(order)
    await session.flush()
    order.number = await _order_number(session, order)
    session.add_all([_order_line(order, line) for line in quote.lines])
    session.add(
        OrderHistory(
            shop_id=shop_id,
            order_id=order.id,
            from_status=None,
            to_status=order.status,
            actor_label="customer",
        )
    )
    await session.flush()
    await session.refresh(order, attribute_names=["lines"])
    return order


def _announce_order(
    session: AsyncSession, order: Order, quote: Quote, stock_left: dict[int, int]
) -> None:
    if order.live_session_id is None:
        return
    product_name = quote.lines[0].product.name
    send_after_commit(
        session,
        live_session_id=order.live_session_id,
        message={
            "type": "order_ticker",
            "name": mask_name(order.recipient_name),
            "product_name": product_name,
        },
    )
    send_stock(session, order.live_session_id, stock_left, quote_products(quote))


def quote_products(quote: Quote) -> dict[int, int]:
    return {line.sku.id: line.product.id for line in quote.lines}


def _schedule_expiry(session: AsyncSession, order: Order) -> None:
    from liveloop.commerce import tasks  # tasks imports this module

    if order.expires_at is not None:
        tasks.schedule_expiry(session, order)


# ------------------------------------------------------------------------------------ paying


async def mark_order_paid(
    *,
    session: AsyncSession,
    shop_id: int,
    order_id: int,
    amount_fen: int,
    paid_at: dt.datetime,
    payment_ref: str,
    time_resolution: dt.timedelta = dt.timedelta(0),
) -> Order:
    """Record a confirmed payment: pending_payment → paid, units counted as sold.

    `time_resolution` is how coarse the payer's `paid_at` is: a time that falls less than
    that before the order's creation is the same moment, recorded as the creation time.

    Idempotent for the same `payment_ref`. Refused: an amount other than the total (409
    amount_mismatch), an order no longer payable, i.e. expired or cancelled (409
    order_not_payable; the payment must be refunded), a second payment of a paid order (409
    order_already_paid)."""
    order = await lock_order(session, shop_id=shop_id, order_id=order_id)
    if order.status != S.PENDING_PAYMENT.value:
        if order.payment_ref and order.payment_ref == payment_ref:
            return order
        if order.status in PAID_STATUSES or order.status == S.REFUNDED.value:
            raise Conflict(
                f"order {order.number} was already paid (payment {order.payment_ref}); "
                f"payment {payment_ref} must be refunded",
                code="order_already_paid",
            )
        raise Conflict(
            f"order {order.number} is {order.status} and can no longer be paid; "
            f"payment {payment_ref} must be refunded",
            code="order_not_payable",
        )
    if amount_fen != order.total_fen:
        raise Conflict(
            f"payment of {fen(amount_fen)} does not match order {order.number} "
            f"({fen(order.total_fen)})",
            code="amount_mismatch",
            field="amount_fen",
        )
    move(session, order, S.PAID, actor_label="payment", note=payment_ref)
    order.paid_fen = amount_fen
    # Providers give the success time to the second (WeChat Pay's RFC 3339 time has no
    # fraction): an order paid within the second it was placed must not read as paid first.
    if order.created_at - time_resolution < paid_at < order.created_at:
        paid_at = order.created_at
    order.paid_at = paid_at
    order.payment_ref = payment_ref[:64]
    await catalog_service.record_sold(
        session=session,
        shop_id=shop_id,
        lines=[(line.sku_id, line.quantity) for line in order.lines if line.sku_id is not None],
    )
    await session.flush()
    await hooks.emit("order_paid", session=session, order=order)
    await record_event(session, order, "order_paid", paid_fen=amount_fen)
    return order


# --------------------------------------------------------------------- cancelling / expiring


async def _release(
    session: AsyncSession, order: Order, target: OrderStatus, *, actor_label: str, reason: str
) -> None:
    """Close an unpaid order and give back what it held (stock here; coupon and flash quota
    through the order_released hook)."""
    move(session, order, target, actor_label=actor_label, note=reason)
    order.closed_at = utcnow()
    order.close_reason = reason[:200]
    stock: dict[int, int] = {}
    if order.stock_reserved:
        stock = await catalog_service.release_stock(
            session=session,
            shop_id=order.shop_id,
            lines=[(line.sku_id, line.quantity) for line in order.lines if line.sku_id],
            reason=f"{target.value} {order.number}",
        )
    await session.flush()
    await hooks.emit("order_released", session=session, order=order, reason=target.value)
    event = "order_cancelled" if target == S.CANCELLED else "order_expired"
    await record_event(session, order, event, reason=reason[:200])
    if order.live_session_id is not None:
        products = {
            line.sku_id: line.product_id
            for line in order.lines
            if line.sku_id is not None and line.product_id is not None
        }
        send_stock(session, order.live_session_id, stock, products)


async def cancel_order(
    *,
    session: AsyncSession,
    shop_id: int,
    order_id: int,
    reason: str,
    actor: Actor | str,
    customer_id: int | None = None,
) -> Order:
    """Cancel an unpaid order (by its customer, `customer_id` given, or by staff). A paid
    order is refunded instead (commerce.payments)."""
    if customer_id is not None:
        await get_customer_order(
            session=session, shop_id=shop_id, customer_id=customer_id, order_id=order_id
        )
    order = await lock_order(session, shop_id=shop_id, order_id=order_id)
    if order.status != S.PENDING_PAYMENT.value:
        hint = " and was paid: refund it instead" if order.status in PAID_STATUSES else ""
        raise Conflict(
            f"order {order.number} is {order.status}{hint}; only an unpaid order can be cancelled",
            code="invalid_order_state",
            field="status",
        )
    label = actor.label if isinstance(actor, Actor) else str(actor)
    await _release(session, order, S.CANCELLED, actor_label=label, reason=reason)
    if isinstance(actor, Actor):
        await shops_service.record_audit(
            session=session,
            actor=actor,
            action="order.cancel",
            target_type="order",
            target_id=order.id,
            details={"number": order.number, "reason": reason[:200]},
        )
    return order


async def expire_order(
    *, session: AsyncSession, shop_id: int, order_id: int, now: dt.datetime | None = None
) -> bool:
    """Expire the order if it is still unpaid past its deadline; True when it did. Running it
    again (or for a paid order) changes nothing."""
    now = now or utcnow()
    try:
        order = await lock_order(session, shop_id=shop_id, order_id=order_id)
    except NotFound:
        return False
    if order.status != S.PENDING_PAYMENT.value or order.expires_at is None:
        return False
    if order.expires_at > now:
        return False
    await _release(session, order, S.EXPIRED, actor_label="system", reason="not paid in time")
    return True


async def due_for_expiry(
    *, session: AsyncSession, now: dt.datetime | None = None, limit: int = 500
) -> list[tuple[int, int]]:
    """(shop id, order id) of unpaid orders past their deadline, oldest first (all shops:
    the sweeper runs for the whole site)."""
    statement = (
        select(Order.shop_id, Order.id)
        .where(Order.status == S.PENDING_PAYMENT.value, Order.expires_at <= (now or utcnow()))
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return [(row.shop_id, row.id) for row in await session.execute(statement)]


async def due_for_completion(
    *, session: AsyncSession, shipped_before: dt.datetime, limit: int = 500
) -> list[tuple[int, int]]:
    """(shop id, order id) of orders shipped before `shipped_before` and not completed yet."""
    statement = (
        select(Order.shop_id, Order.id)
        .where(Order.status == S.SHIPPED.value, Order.shipped_at < shipped_before)
        .order_by(Order.shipped_at)
        .limit(limit)
    )
    return [(row.shop_id, row.id) for row in await session.execute(statement)]
