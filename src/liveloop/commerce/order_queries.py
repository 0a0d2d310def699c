"""Reading orders for the console: filters, pages, and the audited CSV export (streamed)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.models import Order, OrderLine, OrderStatus
from liveloop.core.database import OpenSession, Page, paginate, scoped
from liveloop.core.errors import InvalidInput
from liveloop.shops import service as shops_service
from liveloop.shops.service import Actor, record_audit

EXPORT_BATCH = 500
EXPORT_COLUMNS = (
    "number", "status", "kind", "customer_id", "items_fen", "discount_fen", "shipping_fen",
    "total_fen", "paid_fen", "refunded_fen", "live_session_id", "source_code", "share_code",
    "recipient", "phone", "region", "products", "created_at", "paid_at", "shipped_at",
    "carrier", "tracking_number",
)  # fmt: skip
BOM = "\ufeff"


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    live_session_id: int | None = None
    product_id: int | None = None
    customer_id: int | None = None
    number: str | None = None
    created_from: dt.date | None = None  # in the shop's time zone, inclusive
    created_to: dt.date | None = None  # inclusive

    def described(self) -> dict[str, Any]:
        return {k: (str(v) if v is not None else None) for k, v in asdict(self).items() if v}


def check_filter(filters: OrderFilter) -> OrderFilter:
    if filters.status is not None and filters.status not in {s.value for s in OrderStatus}:
        raise InvalidInput(
            f"unknown status {filters.status!r}; one of {', '.join(s.value for s in OrderStatus)}",
            field="status",
        )
    if filters.created_from and filters.created_to and filters.created_from > filters.created_to:
        raise InvalidInput("the start date is after the end date", field="created_from")
    return filters


def order_query(*, shop_id: int, filters: OrderFilter, zone: ZoneInfo) -> Select[Any]:
    statement = scoped(Order, shop_id).order_by(Order.id.desc())
    if filters.status:
        statement = statement.where(Order.status == filters.status)
    if filters.live_session_id is not None:
        statement = statement.where(Order.live_session_id == filters.live_session_id)
    if filters.customer_id is not None:
        statement = statement.where(Order.customer_id == filters.customer_id)
    if filters.number:
        statement = statement.where(Order.number == filters.number.strip())
    if filters.product_id is not None:
        with_product = select(OrderLine.order_id).where(
            OrderLine.shop_id == shop_id, OrderLine.product_id == filters.product_id
        )
        statement = statement.where(Order.id.in_(with_product))
    if filters.created_from:
        start = dt.datetime.combine(filters.created_from, dt.time(), zone)
        statement = statement.where(Order.created_at >= start.astimezone(dt.UTC))
    if filters.created_to:
        end = dt.datetime.combine(filters.created_to + dt.timedelta(days=1), dt.time(), zone)
        statement = statement.where(Order.created_at < end.astimezone(dt.UTC))
    return statement


async def _zone(session: AsyncSession, shop_id: int) -> ZoneInfo:
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    return ZoneInfo(shop.timezone)


async def list_orders(
    *,
    session: AsyncSession,
    shop_id: int,
    filters: OrderFilter,
    page: int = 1,
    per_page: int = 50,
) -> Page[Order]:
    """Newest first."""
    zone = await _zone(session, shop_id)
    statement = order_query(shop_id=shop_id, filters=check_filter(filters), zone=zone)
    return await paginate(session, statement, page=page, per_page=per_page)


async def status_counts(*, session: AsyncSession, shop_id: int) -> dict[str, int]:
    rows = await session.execute(
        scoped(Order, shop_id, Order.status, func.count()).group_by(Order.status)
    )
    return {status: count for status, count in rows}


async def start_export(*, session: AsyncSession, actor: Actor, filters: OrderFilter) -> int:
    """Count the rows and write the audit entry (before the CSV streams)."""
    zone = await _zone(session, actor.shop_id)
    statement = order_query(shop_id=actor.shop_id, filters=check_filter(filters), zone=zone)
    total = (
        await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
    ).scalar_one()
    await record_audit(
        session=session,
        actor=actor,
        action="order.export",
        target_type="order",
        details={"filter": filters.described(), "rows": total},
    )
    return total


def _line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _local(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


async def export_csv_lines(
    *, open_session: OpenSession, shop_id: int, filters: OrderFilter
) -> AsyncIterator[str]:
    """The CSV (BOM first, for Excel), read in a unit of work of its own as it streams.
    Phones stay masked: an order export is for fulfilment figures, not for contact lists."""
    async with open_session() as session:
        zone = await _zone(session, shop_id)
        yield BOM + _line(list(EXPORT_COLUMNS))
        base = order_query(shop_id=shop_id, filters=filters, zone=zone)
        last_id: int | None = None
        while True:
            statement = base if last_id is None else base.where(Order.id < last_id)
            batch = list((await session.execute(statement.limit(EXPORT_BATCH))).scalars())
            if not batch:
                return
            chunk = []
            for order in batch:
                products = "; ".join(
                    f"{line.product_name} {line.sku_name} x{line.quantity}".replace("  ", " ")
                    for line in order.lines
                )
                chunk.append(
                    _line(
                        [
                            order.number,
                            order.status,
                            order.kind,
                            order.customer_id or "",
                            order.items_total_fen,
                            order.discount_fen,
                            order.shipping_fen,
                            order.total_fen,
                            order.paid_fen,
                            order.refunded_fen,
                            order.live_session_id or "",
                            order.source_code,
                            order.share_code,
                            order.recipient_name,
                            order.recipient_phone_masked,
                            order.address_region,
                            products,
                            _local(order.created_at, zone),
                            _local(order.paid_at, zone),
                            _local(order.shipped_at, zone),
                            order.carrier,
                            order.tracking_number,
                        ]
                    )
                )
            yield "".join(chunk)
            last_id = batch[-1].id
            session.expunge_all()
