"""Order state primitives shared by placing, paying and fulfilment: load and lock an order,
move it along the state table with a history row, record analytics events, room stock."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.commerce.models import Order, OrderHistory, OrderStatus
from liveloop.commerce.states import check_transition
from liveloop.core.database import get_scoped, scoped
from liveloop.core.errors import NotFound
from liveloop.events import service as events_service
from liveloop.live.outbox import send_after_commit

S = OrderStatus


def fen(amount: int) -> str:
    return catalog_service.format_fen(amount)


def mask_name(name: str) -> str:
    """'张伟' -> '张**': how a buyer appears in the room's order ticker."""
    name = name.strip()
    return f"{name[0]}**" if name else "顾客"


async def get_order(*, session: AsyncSession, shop_id: int, order_id: int) -> Order:
    return await get_scoped(session, Order, shop_id=shop_id, record_id=order_id, label="order")


async def get_customer_order(
    *, session: AsyncSession, shop_id: int, customer_id: int, order_id: int
) -> Order:
    """The customer's own order; another customer's is 'not found'."""
    order = await get_order(session=session, shop_id=shop_id, order_id=order_id)
    if order.customer_id != customer_id:
        raise NotFound(f"order {order_id} was not found", code="order_not_found", field="id")
    return order


async def lock_order(session: AsyncSession, *, shop_id: int, order_id: int) -> Order:
    """The order row locked for this transaction (PostgreSQL FOR UPDATE; SQLite transactions
    already hold the write lock), reloaded so the status read is the committed one."""
    order = (
        await session.execute(
            scoped(Order, shop_id)
            .where(Order.id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} was not found", code="order_not_found", field="id")
    return order


def move(
    session: AsyncSession, order: Order, target: OrderStatus, *, actor_label: str, note: str = ""
) -> None:
    check_transition(order.status, target, number=order.number)
    session.add(
        OrderHistory(
            shop_id=order.shop_id,
            order_id=order.id,
            from_status=order.status,
            to_status=target.value,
            actor_label=actor_label[:200],
            note=note[:500],
        )
    )
    order.status = target.value


async def order_history(*, session: AsyncSession, order: Order) -> list[OrderHistory]:
    statement = (
        scoped(OrderHistory, order.shop_id)
        .where(OrderHistory.order_id == order.id)
        .order_by(OrderHistory.id)
    )
    return list((await session.execute(statement)).scalars())


async def record_event(
    session: AsyncSession, order: Order, event_type: str, **properties: Any
) -> None:
    """One analytics event per order change (deduplicated by a client event id)."""
    first_product = next((line.product_id for line in order.lines if line.product_id), None)
    await events_service.ingest_events(
        session=session,
        shop_id=order.shop_id,
        items=[
            {
                "type": event_type,
                "customer_id": order.customer_id,
                "live_session_id": order.live_session_id,
                "product_id": first_product,
                "client_event_id": f"{event_type}:{order.id}",
                "properties": {
                    "order_id": order.id,
                    "number": order.number,
                    "kind": order.kind,
                    "total_fen": order.total_fen,
                    "items_fen": order.items_total_fen,
                    "discount_fen": order.discount_fen,
                    "source_code": order.source_code,
                    "lines": [
                        {
                            "product_id": line.product_id,
                            "sku_id": line.sku_id,
                            "quantity": line.quantity,
                            "line_total_fen": line.line_total_fen,
                        }
                        for line in order.lines
                    ],
                    **properties,
                },
            }
        ],
    )


def send_stock(
    session: AsyncSession, live_session_id: int, stock: dict[int, int], products: dict[int, int]
) -> None:
    for sku_id, left in stock.items():
        if sku_id in products:
            send_after_commit(
                session,
                live_session_id=live_session_id,
                message={
                    "type": "product_stock",
                    "product_id": products[sku_id],
                    "sku_id": sku_id,
                    "stock": left,
                },
            )
