"""Console pages of orders: list with filters and pagination, detail with ship and cancel,
CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from liveloop.commerce import order_queries, orders
from liveloop.commerce.models import OrderStatus
from liveloop.commerce.order_queries import OrderFilter
from liveloop.commerce.states import STATUS_LABELS, can_transition
from liveloop.core.deps import DbSession, SessionOpener
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = console_router(prefix="/console/orders")
Manager = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
Reader = Annotated[Actor, console_requires(P.ORDERS_READ)]
PER_PAGE = 20
FormErrors = (InvalidInput, Conflict, NotFound)

STATUS_TEXT = {status.value: en for status, (_zh, en) in STATUS_LABELS.items()}
# msgids for the catalog (the English labels above are translated when rendered)
_STATUS_MSGIDS = (
    N_("Awaiting payment"),
    N_("Paid, to ship"),
    N_("Shipped"),
    N_("Completed"),
    N_("Cancelled"),
    N_("Expired"),
    N_("Partially refunded"),
    N_("Refunded"),
)


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def page_filter(
    status: str, live: str, product: str, customer: str, number: str, date_from: str, date_to: str
) -> OrderFilter:
    return OrderFilter(
        status=status if status in STATUS_TEXT else None,
        live_session_id=parse_id(live),
        product_id=parse_id(product),
        customer_id=parse_id(customer),
        number=number.strip()[:32] or None,
        created_from=_date(date_from),
        created_to=_date(date_to),
    )


FILTER_CHOICES = 200  # sessions and products offered in the filter menus (latest first)


async def _filter_choices(
    session: DbSession, shop_id: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(id, label) of the latest live sessions and products, for the filter menus."""
    from liveloop.catalog import service as catalog_service
    from liveloop.live import service as live_service

    live_sessions = await live_service.list_live_sessions(
        session=session, shop_id=shop_id, per_page=FILTER_CHOICES
    )
    products = await catalog_service.search_products(
        session=session, shop_id=shop_id, per_page=FILTER_CHOICES
    )
    return (
        [(item.id, item.title) for item in live_sessions.items],
        [(item.id, item.name) for item in products.items],
    )


@router.get("", response_class=HTMLResponse)
async def order_list(
    request: Request,
    session: DbSession,
    actor: Reader,
    status: str = "",
    live: str = "",
    product: str = "",
    customer: str = "",
    number: str = "",
    date_from: str = "",
    date_to: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    form = {
        "status": status,
        "live": live,
        "product": product,
        "customer": customer,
        "number": number,
        "date_from": date_from,
        "date_to": date_to,
    }
    filters = page_filter(status, live, product, customer, number, date_from, date_to)
    error = None
    try:
        result = await order_queries.list_orders(
            session=session, shop_id=actor.shop_id, filters=filters, page=page, per_page=PER_PAGE
        )
    except InvalidInput as exc:
        error = exc.message
        result = await order_queries.list_orders(
            session=session, shop_id=actor.shop_id, filters=OrderFilter(), page=1, per_page=PER_PAGE
        )
    counts = await order_queries.status_counts(session=session, shop_id=actor.shop_id)
    live_sessions, products = await _filter_choices(session, actor.shop_id)
    return render(
        request,
        "commerce/orders.html",
        {
            "form": form,
            "live_sessions": live_sessions,
            "products": products,
            "page": result,
            "error": error,
            "counts": counts,
            "statuses": STATUS_TEXT,
            "title": translate(request, N_("Orders")),
        },
    )


@router.get("/export.csv")
async def export_orders(
    session: DbSession,
    open_session: SessionOpener,
    actor: Reader,
    status: str = "",
    live: str = "",
    product: str = "",
    customer: str = "",
    number: str = "",
    date_from: str = "",
    date_to: str = "",
) -> StreamingResponse:
    """The filtered list as CSV (phones masked); the export is audited."""
    filters = page_filter(status, live, product, customer, number, date_from, date_to)
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


@router.get("/{order_id}", response_class=HTMLResponse)
async def order_detail(
    request: Request, order_id: int, session: DbSession, actor: Reader
) -> HTMLResponse:
    order = await orders.get_order(session=session, shop_id=actor.shop_id, order_id=order_id)
    history = await orders.order_history(session=session, order=order)
    manages = actor.can(P.ORDERS_MANAGE)  # readers (analysts) see the order, not the actions
    return render(
        request,
        "commerce/order_detail.html",
        {
            "order": order,
            "history": history,
            "statuses": STATUS_TEXT,
            "can_ship": manages
            and can_transition(order.status, OrderStatus.SHIPPED)
            and order.shipped_at is None,
            "can_cancel": manages and order.status == OrderStatus.PENDING_PAYMENT.value,
            "can_complete": manages and order.status == OrderStatus.SHIPPED.value,
            "title": translate(request, N_("Order %(number)s"), number=order.number),
        },
    )


@router.post("/{order_id}/ship")
async def ship(
    request: Request,
    order_id: int,
    session: DbSession,
    actor: Manager,
    carrier: Annotated[str, Form()] = "",
    tracking_number: Annotated[str, Form()] = "",
) -> Response:
    try:
        async with session.begin_nested():
            await orders.ship_order(
                session=session,
                actor=actor,
                order_id=order_id,
                carrier=carrier[:50],
                tracking_number=tracking_number[:64],
            )
    except NotFound:
        raise
    except FormErrors as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Order shipped.")))
    return redirect(f"/console/orders/{order_id}")


@router.post("/{order_id}/cancel")
async def cancel(
    request: Request,
    order_id: int,
    session: DbSession,
    actor: Manager,
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        async with session.begin_nested():
            await orders.cancel_order(
                session=session,
                shop_id=actor.shop_id,
                order_id=order_id,
                reason=reason.strip()[:200] or "cancelled by the shop",
                actor=actor,
            )
    except NotFound:
        raise
    except FormErrors as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Order cancelled; its stock and coupon are back.")))
    return redirect(f"/console/orders/{order_id}")


@router.post("/{order_id}/complete")
async def complete(request: Request, order_id: int, session: DbSession, actor: Manager) -> Response:
    try:
        async with session.begin_nested():
            await orders.complete_order(
                session=session, shop_id=actor.shop_id, order_id=order_id, actor_label=actor.label
            )
    except NotFound:
        raise
    except FormErrors as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Order completed.")))
    return redirect(f"/console/orders/{order_id}")
