"""JSON routes of orders for the console and integrators: list, detail, ship, cancel,
complete, CSV export, and the shop's shipping rule."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from liveloop.commerce import checkout, order_queries, orders
from liveloop.commerce.models import Order
from liveloop.commerce.order_queries import OrderFilter
from liveloop.commerce.schemas import (
    CancelIn,
    HistoryOut,
    OrderDetailOut,
    OrderOut,
    ShipIn,
    ShippingRuleIn,
    ShippingRuleOut,
)
from liveloop.core.deps import DbSession, SessionOpener
from liveloop.core.schemas import PageOut
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["orders"], dependencies=[Depends(current_actor)])

OrderManager = Annotated[Actor, requires(P.ORDERS_MANAGE)]
OrderReader = Annotated[Actor, requires(P.ORDERS_READ)]
ShopManager = Annotated[Actor, requires(P.SHOP_MANAGE)]


def order_filter(
    status: str | None = None,
    live_session_id: int | None = None,
    product_id: int | None = None,
    customer_id: int | None = None,
    number: Annotated[str | None, Query(max_length=32)] = None,
    created_from: dt.date | None = None,
    created_to: dt.date | None = None,
) -> OrderFilter:
    return OrderFilter(
        status=status or None,
        live_session_id=live_session_id,
        product_id=product_id,
        customer_id=customer_id,
        number=number or None,
        created_from=created_from,
        created_to=created_to,
    )


Filters = Annotated[OrderFilter, Depends(order_filter)]


async def order_detail(session: DbSession, order: Order) -> OrderDetailOut:
    history = await orders.order_history(session=session, order=order)
    detail = OrderDetailOut.model_validate(order)
    detail.history = [HistoryOut.model_validate(h) for h in history]
    return detail


@router.get("/orders", response_model=PageOut[OrderOut])
async def list_orders(
    session: DbSession,
    actor: OrderReader,
    filters: Filters,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[OrderOut]:
    """Newest first; dates are days in the shop's time zone, both ends included."""
    result = await order_queries.list_orders(
        session=session, shop_id=actor.shop_id, filters=filters, page=page, per_page=per_page
    )
    return PageOut[OrderOut].of(result, OrderOut)


@router.get("/orders/export.csv", response_class=StreamingResponse)
async def export_orders(
    session: DbSession, open_session: SessionOpener, actor: OrderReader, filters: Filters
) -> StreamingResponse:
    """The filtered orders as CSV (UTF-8 with BOM, phones masked); the export is audited."""
    await order_queries.start_export(session=session, actor=actor, filters=filters)
    lines = order_queries.export_csv_lines(
        open_session=open_session, shop_id=actor.shop_id, filters=filters
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="orders-{stamp}.csv"'},
    )


@router.get("/orders/{order_id}", response_model=OrderDetailOut)
async def get_order(order_id: int, session: DbSession, actor: OrderReader) -> OrderDetailOut:
    order = await orders.get_order(session=session, shop_id=actor.shop_id, order_id=order_id)
    return await order_detail(session, order)


@router.post("/orders/{order_id}/ship", response_model=OrderDetailOut)
async def ship_order(
    order_id: int, data: ShipIn, session: DbSession, actor: OrderManager
) -> OrderDetailOut:
    order = await orders.ship_order(
        session=session,
        actor=actor,
        order_id=order_id,
        carrier=data.carrier,
        tracking_number=data.tracking_number,
    )
    return await order_detail(session, order)


@router.post("/orders/{order_id}/cancel", response_model=OrderDetailOut)
async def cancel_order(
    order_id: int, data: CancelIn, session: DbSession, actor: OrderManager
) -> OrderDetailOut:
    """Cancel an unpaid order: its stock and coupon come back. A paid order is refunded."""
    order = await orders.cancel_order(
        session=session,
        shop_id=actor.shop_id,
        order_id=order_id,
        reason=data.reason or "cancelled by the shop",
        actor=actor,
    )
    return await order_detail(session, order)


@router.post("/orders/{order_id}/complete", response_model=OrderDetailOut)
async def complete_order(order_id: int, session: DbSession, actor: OrderManager) -> OrderDetailOut:
    order = await orders.complete_order(
        session=session, shop_id=actor.shop_id, order_id=order_id, actor_label=actor.label
    )
    return await order_detail(session, order)


@router.get("/commerce/shipping", response_model=ShippingRuleOut)
async def get_shipping_rule(session: DbSession, actor: OrderManager) -> ShippingRuleOut:
    rule = await checkout.get_shipping_rule(session=session, shop_id=actor.shop_id)
    return ShippingRuleOut(
        shipping_fee_fen=rule.fee_fen, free_shipping_threshold_fen=rule.free_threshold_fen
    )


@router.put("/commerce/shipping", response_model=ShippingRuleOut)
async def set_shipping_rule(
    data: ShippingRuleIn, session: DbSession, actor: ShopManager
) -> ShippingRuleOut:
    """Flat shipping fee, free from a threshold of items (null: never free)."""
    rule = await checkout.set_shipping_rule(
        session=session,
        shop_id=actor.shop_id,
        fee_fen=data.shipping_fee_fen,
        free_threshold_fen=data.free_shipping_threshold_fen,
    )
    return ShippingRuleOut(
        shipping_fee_fen=rule.fee_fen, free_shipping_threshold_fen=rule.free_threshold_fen
    )
