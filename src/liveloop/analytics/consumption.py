"""The consumption section of a post-live report: orders, money (fen), buyers, products,
coupons and flash sales of one session — from the orders that carry its live_session_id.

An order is *paid* when it has a paid_at (whatever happened later: shipped, refunded...).
GMV is what paid orders paid (paid_fen); refunds are reported beside it, never netted silently.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.expressions import half_up, ratio, viewer_key
from liveloop.analytics.viewing import session_events
from liveloop.commerce.coupons.models import Coupon, CustomerCoupon
from liveloop.commerce.flash.models import FlashReservation, FlashSale, ReservationStatus
from liveloop.commerce.models import Order, OrderLine, OrderStatus
from liveloop.events.models import Event

PRODUCT_CLICK_EVENT = "live_product_click"
UNPAID_OPEN = (OrderStatus.PENDING_PAYMENT.value,)
CLOSED_UNPAID = (OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value)


def session_orders(shop_id: int, live_session_id: int) -> Any:
    return and_(Order.shop_id == shop_id, Order.live_session_id == live_session_id)


def paid_order() -> Any:
    return Order.paid_at.is_not(None)


async def _totals(session: AsyncSession, shop_id: int, live_session_id: int) -> dict[str, int]:
    paid = paid_order()
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((paid, 1), else_=0)), 0),
                func.coalesce(func.sum(case((paid, Order.paid_fen), else_=0)), 0),
                func.coalesce(func.sum(case((paid, Order.refunded_fen), else_=0)), 0),
                func.coalesce(func.sum(case((paid & (Order.refunded_fen > 0), 1), else_=0)), 0),
                func.count(func.distinct(case((paid, Order.customer_id), else_=None))),
                func.count(func.distinct(Order.customer_id)),
                func.coalesce(func.sum(case((Order.status.in_(UNPAID_OPEN), 1), else_=0)), 0),
                func.coalesce(func.sum(case((Order.status.in_(CLOSED_UNPAID), 1), else_=0)), 0),
                func.coalesce(
                    func.sum(case((Order.status.in_(UNPAID_OPEN), Order.total_fen), else_=0)), 0
                ),
            ).where(session_orders(shop_id, live_session_id))
        )
    ).one()
    names = (
        "orders",
        "paid_orders",
        "gmv_fen",
        "refunded_fen",
        "refunded_orders",
        "paying_customers",
        "ordering_customers",
        "unpaid_orders",
        "closed_unpaid_orders",
        "unpaid_fen",
    )
    return {name: int(value) for name, value in zip(names, row, strict=True)}


async def _products(session: AsyncSession, shop_id: int, live_session_id: int) -> list[Any]:
    """Per product: paid units and sales (line total less its share of the coupon), refunded
    units, buyers; clicks on its card in the room beside them."""
    sales = await session.execute(
        select(
            OrderLine.product_id,
            func.max(OrderLine.product_name),
            func.sum(OrderLine.quantity),
            func.sum(OrderLine.refunded_quantity),
            func.sum(OrderLine.line_total_fen - OrderLine.discount_fen),
            func.count(func.distinct(Order.id)),
            func.count(func.distinct(Order.customer_id)),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            session_orders(shop_id, live_session_id),
            paid_order(),
            OrderLine.shop_id == shop_id,
        )
        .group_by(OrderLine.product_id)
    )
    rows: dict[Any, dict[str, Any]] = {}
    for product_id, name, units, refunded, fen, orders, buyers in sales:
        rows[product_id] = {
            "product_id": product_id,
            "name": name or "",
            "units": int(units or 0),
            "refunded_units": int(refunded or 0),
            "sales_fen": int(fen or 0),
            "orders": int(orders),
            "buyers": int(buyers),
            "clicks": 0,
            "clickers": 0,
        }
    clicks = await session.execute(
        select(
            Event.product_id,
            func.count(),
            func.count(func.distinct(viewer_key())),
        )
        .where(
            session_events(shop_id, live_session_id, PRODUCT_CLICK_EVENT),
            Event.product_id.is_not(None),
        )
        .group_by(Event.product_id)
    )
    unnamed = []
    for product_id, number, people in clicks:
        row = rows.get(product_id)
        if row is None:
            row = rows[product_id] = {
                "product_id": product_id, "name": "", "units": 0, "refunded_units": 0,
                "sales_fen": 0, "orders": 0, "buyers": 0, "clicks": 0, "clickers": 0,
            }  # fmt: skip
            unnamed.append(product_id)
        row["clicks"], row["clickers"] = int(number), int(people)
    if unnamed:
        from liveloop.catalog.models import Product

        names = await session.execute(
            select(Product.id, Product.name).where(
                Product.shop_id == shop_id, Product.id.in_(unnamed)
            )
        )
        for product_id, name in names:
            rows[product_id]["name"] = name
    for row in rows.values():
        row["click_to_buyer"] = ratio(row["buyers"], row["clickers"])
    return sorted(
        rows.values(), key=lambda r: (-r["sales_fen"], -r["clicks"], r["product_id"] or 0)
    )


async def _coupons(session: AsyncSession, shop_id: int, live_session_id: int) -> dict[str, Any]:
    """Coupons on the session's paid orders and what they cost (the orders' discount), and the
    coupons handed out in the room (claimed with this live_session_id)."""
    used = await session.execute(
        select(
            Coupon.id,
            Coupon.title,
            func.count(),
            func.coalesce(func.sum(Order.discount_fen), 0),
            func.coalesce(func.sum(Order.paid_fen), 0),
        )
        .select_from(Order)
        .join(CustomerCoupon, CustomerCoupon.id == Order.customer_coupon_id)
        .join(Coupon, Coupon.id == CustomerCoupon.coupon_id)
        .where(session_orders(shop_id, live_session_id), paid_order())
        .group_by(Coupon.id, Coupon.title)
        .order_by(func.count().desc(), Coupon.id)
    )
    per_coupon = [
        {
            "coupon_id": int(coupon_id),
            "title": title,
            "used": int(count),
            "cost_fen": int(cost),
            "gmv_fen": int(gmv),
            "claimed_in_room": 0,
        }
        for coupon_id, title, count, cost, gmv in used
    ]
    claimed = await session.execute(
        select(CustomerCoupon.coupon_id, Coupon.title, func.count())
        .join(Coupon, Coupon.id == CustomerCoupon.coupon_id)
        .where(CustomerCoupon.shop_id == shop_id, CustomerCoupon.live_session_id == live_session_id)
        .group_by(CustomerCoupon.coupon_id, Coupon.title)
    )
    by_id = {row["coupon_id"]: row for row in per_coupon}
    for coupon_id, title, count in claimed:
        row = by_id.get(int(coupon_id))
        if row is None:
            row = by_id[int(coupon_id)] = {
                "coupon_id": int(coupon_id), "title": title, "used": 0, "cost_fen": 0,
                "gmv_fen": 0, "claimed_in_room": 0,
            }  # fmt: skip
            per_coupon.append(row)
        row["claimed_in_room"] = int(count)
    return {
        "orders_with_coupon": sum(r["used"] for r in per_coupon),
        "cost_fen": sum(r["cost_fen"] for r in per_coupon),
        "claimed_in_room": sum(r["claimed_in_room"] for r in per_coupon),
        "coupons": per_coupon,
    }


async def _flash_sales(
    session: AsyncSession, shop_id: int, live_session_id: int
) -> list[dict[str, Any]]:
    """Each flash sale of the session: units offered, held by orders now, and sold in paid
    orders; sell-through = paid units / units offered."""
    paid_units = (
        select(
            FlashReservation.flash_sale_id.label("sale_id"),
            func.sum(FlashReservation.quantity).label("units"),
        )
        .join(Order, Order.id == FlashReservation.order_id)
        .where(
            FlashReservation.shop_id == shop_id,
            FlashReservation.status == ReservationStatus.ORDERED.value,
            paid_order(),
        )
        .group_by(FlashReservation.flash_sale_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            FlashSale.id,
            FlashSale.title,
            FlashSale.price_fen,
            FlashSale.quantity,
            FlashSale.sold_count,
            func.coalesce(paid_units.c.units, 0),
        )
        .outerjoin(paid_units, paid_units.c.sale_id == FlashSale.id)
        .where(FlashSale.shop_id == shop_id, FlashSale.live_session_id == live_session_id)
        .order_by(FlashSale.id)
    )
    return [
        {
            "flash_sale_id": int(sale_id),
            "title": title,
            "price_fen": int(price),
            "quantity": int(quantity),
            "held": int(held),
            "paid_units": int(paid),
            "sell_through": ratio(int(paid), int(quantity)),
        }
        for sale_id, title, price, quantity, held, paid in rows
    ]


async def consumption_section(
    *, session: AsyncSession, shop_id: int, live_session_id: int, uv: int
) -> dict[str, Any]:
    totals = await _totals(session, shop_id, live_session_id)
    return {
        **totals,
        "net_gmv_fen": totals["gmv_fen"] - totals["refunded_fen"],
        "aov_fen": half_up(totals["gmv_fen"], totals["paid_orders"]),
        "conversion_rate": ratio(totals["paying_customers"], uv),
        "products": await _products(session, shop_id, live_session_id),
        "coupons": await _coupons(session, shop_id, live_session_id),
        "flash_sales": await _flash_sales(session, shop_id, live_session_id),
    }
