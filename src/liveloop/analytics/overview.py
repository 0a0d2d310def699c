"""Read-only figures for the console dashboard: counts of one shop and new customers a day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.models import Product, ProductStatus
from liveloop.core.database import scoped, utcnow
from liveloop.customers.models import STATUS_ACTIVE, Customer, CustomerTag, Tag
from liveloop.events.models import Event

UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class ShopFigures:
    customers: int
    new_customers_7d: int
    tagged_customers: int
    tags: int
    products_on_shelf: int
    products: int
    events_today: int


def start_of_local_day(timezone: str, now: dt.datetime | None = None) -> dt.datetime:
    """Midnight today in the shop's time zone, as UTC."""
    local = (now or utcnow()).astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


async def _count(session: AsyncSession, statement: Any) -> int:
    return int((await session.execute(statement)).scalar_one() or 0)


async def shop_figures(
    *, session: AsyncSession, shop_id: int, timezone: str, now: dt.datetime | None = None
) -> ShopFigures:
    now = now or utcnow()
    active = Customer.status == STATUS_ACTIVE
    joined = func.coalesce(Customer.first_seen_at, Customer.created_at)
    return ShopFigures(
        customers=await _count(session, scoped(Customer, shop_id, func.count()).where(active)),
        new_customers_7d=await _count(
            session,
            scoped(Customer, shop_id, func.count()).where(
                active, joined >= now - dt.timedelta(days=7)
            ),
        ),
        tagged_customers=await _count(
            session,
            scoped(CustomerTag, shop_id, func.count(func.distinct(CustomerTag.customer_id)))
            .join(Customer, Customer.id == CustomerTag.customer_id)
            .where(active),
        ),
        tags=await _count(session, scoped(Tag, shop_id, func.count())),
        products_on_shelf=await _count(
            session,
            scoped(Product, shop_id, func.count()).where(
                Product.status == ProductStatus.ON_SHELF.value
            ),
        ),
        products=await _count(session, scoped(Product, shop_id, func.count())),
        events_today=await _events_since(session, shop_id, start_of_local_day(timezone, now)),
    )


async def _events_since(session: AsyncSession, shop_id: int, since: dt.datetime) -> int:
    return await _count(
        session, scoped(Event, shop_id, func.count()).where(Event.occurred_at >= since)
    )


def _local_date(session: AsyncSession, column: Any, timezone: str) -> Any:
    """The calendar date of a UTC column in the shop's time zone, on either backend."""
    if session.bind.dialect.name == "postgresql":
        return cast(func.timezone(timezone, column), Date)
    # SQLite keeps naive UTC; shift by the zone's current offset (exact for zones without DST,
    # such as Asia/Shanghai, and off by an hour only around a DST change elsewhere).
    offset = utcnow().astimezone(ZoneInfo(timezone)).utcoffset() or dt.timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


async def new_customers_by_channel(
    *,
    session: AsyncSession,
    shop_id: int,
    timezone: str,
    days: int = 30,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """{"days": ["2024-05-01", ...], "series": [{"channel": "wecom", "counts": [...]}, ...]}.

    A customer is new on the day it was first seen (or added, when that is unknown).
    """
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(timezone)).date()
    first_day = today - dt.timedelta(days=days - 1)
    since = start_of_local_day(timezone, now) - dt.timedelta(days=days - 1)
    joined = func.coalesce(Customer.first_seen_at, Customer.created_at)
    day = _local_date(session, joined, timezone).label("day")
    channel = func.coalesce(Customer.source_channel, UNKNOWN_CHANNEL).label("channel")
    statement = (
        scoped(Customer, shop_id, day, channel, func.count())
        .where(Customer.status == STATUS_ACTIVE, joined >= since)
        .group_by(day, channel)
    )
    labels = [(first_day + dt.timedelta(days=n)).isoformat() for n in range(days)]
    position = {label: n for n, label in enumerate(labels)}
    counts: dict[str, list[int]] = {}
    for row_day, row_channel, number in (await session.execute(statement)).all():
        key = row_day.isoformat() if isinstance(row_day, dt.date) else str(row_day)
        if key in position:
            counts.setdefault(str(row_channel), [0] * days)[position[key]] += int(number)
    series = [{"channel": name, "counts": counts[name]} for name in sorted(counts)]
    return {"days": labels, "series": series}
