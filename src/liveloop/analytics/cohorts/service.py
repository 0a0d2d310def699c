"""Retention, cohort triangles and value figures (ROI, ROAS, CAC, LTV, AARRR, K-factor, KOL).

Rows are read through SQLAlchemy Core and bucketed into the shop's calendar in Python, so SQLite
and PostgreSQL give the same periods whatever their date functions. docs/value-figures.md
defines every figure."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.expressions import half_up, ratio
from liveloop.commerce.models import Order
from liveloop.core.errors import InvalidInput
from liveloop.customers.models import Customer
from liveloop.events.models import Event
from liveloop.shops.models import Shop

PAID_STATUSES = ("paid", "shipped", "completed", "partially_refunded", "refunded")
PERIODS = ("week", "month")
ACTIVITIES = ("purchase", "live")
COHORT_KINDS = ("period", "channel", "first_live")
LIVE_EVENTS = ("live_enter", "view")
MAX_RANGE_DAYS = 731


# ---------------------------------------------------------------- input checks


def check_range(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    if start is None:
        raise InvalidInput("give a start date (YYYY-MM-DD)", code="range_unbounded", field="start")
    if end is None:
        raise InvalidInput("give an end date (YYYY-MM-DD)", code="range_unbounded", field="end")
    if end < start:
        raise InvalidInput(
            f"the range ends ({end}) before it starts ({start})", code="range_reversed", field="end"
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"a range spans at most {MAX_RANGE_DAYS} days (this one {(end - start).days + 1})",
            code="range_too_long",
            field="end",
        )
    return start, end


def check_choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(
            f"unknown {field} {value!r}: use one of {', '.join(allowed)}",
            code=f"unknown_{field}",
            field=field,
        )
    return value


async def shop_zone(session: AsyncSession, shop_id: int) -> ZoneInfo:
    name = await session.scalar(select(Shop.timezone).where(Shop.id == shop_id))
    return ZoneInfo(name or "Asia/Shanghai")


def utc_bounds(start: dt.date, end: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in the shop's time zone, as UTC."""
    low = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return low, high


# ---------------------------------------------------------------- calendar


def period_start(moment: dt.datetime, period: str, zone: ZoneInfo) -> dt.date:
    day = moment.astimezone(zone).date()
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def period_index(first: dt.date, later: dt.date, period: str) -> int:
    if period == "week":
        return (later - first).days // 7
    return (later.year - first.year) * 12 + later.month - first.month


# ---------------------------------------------------------------- retention


async def _activity_rows(
    session: AsyncSession, shop_id: int, activity: str, high: dt.datetime
) -> list[tuple[int, dt.datetime, int | None]]:
    """(customer, moment, live session) of every purchase / live visit before `high`. Earlier
    ones than the range are read too: a customer's cohort is their first activity ever."""
    if activity == "purchase":
        query = select(Order.customer_id, Order.paid_at, Order.live_session_id).where(
            Order.shop_id == shop_id,
            Order.status.in_(PAID_STATUSES),
            Order.customer_id.is_not(None),
            Order.paid_at.is_not(None),
            Order.paid_at < high,
        )
    else:
        query = select(Event.customer_id, Event.occurred_at, Event.live_session_id).where(
            Event.shop_id == shop_id,
            Event.type.in_(LIVE_EVENTS),
            Event.customer_id.is_not(None),
            Event.live_session_id.is_not(None),
            Event.occurred_at < high,
        )
    return [(int(c), m, s) for c, m, s in (await session.execute(query)).all()]


async def retention(
    *,
    session: AsyncSession,
    shop_id: int,
    start: dt.date | None,
    end: dt.date | None,
    period: str = "month",
    activity: str = "purchase",
    cohort: str = "period",
) -> dict[str, Any]:
    """A cohort triangle: customers whose first activity (first paid order, or first live visit)
    falls in [start, end], grouped by that first period, their entry channel or their first
    live session; cell k = how many of them were active again k periods after their first."""
    start, end = check_range(start, end)
    check_choice(period, PERIODS, "period")
    check_choice(activity, ACTIVITIES, "activity")
    check_choice(cohort, COHORT_KINDS, "cohort")
    zone = await shop_zone(session, shop_id)
    low, high = utc_bounds(start, end, zone)
    rows = sorted(await _activity_rows(session, shop_id, activity, high), key=lambda r: r[1])
    first: dict[int, tuple[dt.datetime, int | None]] = {}
    for customer_id, moment, live_id in rows:
        first.setdefault(customer_id, (moment, live_id))
    members = {c for c, (m, _) in first.items() if low <= m < high}
    last_period = period_start(high - dt.timedelta(microseconds=1), period, zone)
    keys = await _cohort_keys(session, shop_id, cohort, members, first, period, zone)
    active: dict[int, set[int]] = defaultdict(set)
    for customer_id, moment, _ in rows:
        if customer_id in members:
            first_p = period_start(first[customer_id][0], period, zone)
            active[customer_id].add(
                period_index(first_p, period_start(moment, period, zone), period)
            )
    groups: dict[Any, list[int]] = defaultdict(list)
    for customer_id in members:
        groups[keys[customer_id]].append(customer_id)
    out = []
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        ids = groups[key]
        # Columns a cohort can have: up to the range's last period from its earliest member.
        earliest = min(period_start(first[c][0], period, zone) for c in ids)
        width = period_index(earliest, last_period, period) + 1
        counts = [sum(1 for c in ids if k in active[c]) for k in range(width)]
        out.append(
            {
                "cohort": key.isoformat() if isinstance(key, dt.date) else key,
                "size": len(ids),
                "counts": counts,
                "rates": [ratio(n, len(ids)) for n in counts],
            }
        )
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "period": period,
        "activity": activity,
        "cohort_kind": cohort,
        "timezone": str(zone),
        "cohorts": out,
    }


async def _cohort_keys(
    session: AsyncSession,
    shop_id: int,
    cohort: str,
    members: set[int],
    first: dict[int, tuple[dt.datetime, int | None]],
    period: str,
    zone: ZoneInfo,
) -> dict[int, Any]:
    if cohort == "period":
        return {c: period_start(first[c][0], period, zone) for c in members}
    if cohort == "first_live":
        return await _first_live_sessions(session, shop_id, members)
    channels: dict[int, str] = {}
    if members:
        query = select(Customer.id, Customer.source_channel).where(
            Customer.shop_id == shop_id, Customer.id.in_(members)
        )
        channels = {int(i): ch or "" for i, ch in (await session.execute(query)).all()}
    return {c: channels.get(c) or "(none)" for c in members}


async def _first_live_sessions(
    session: AsyncSession, shop_id: int, members: set[int]
) -> dict[int, Any]:
    """The live session each customer attended first (entered or viewed), None if none."""
    found: dict[int, Any] = {c: None for c in members}
    if not members:
        return found
    query = (
        select(Event.customer_id, Event.live_session_id)
        .where(
            Event.shop_id == shop_id,
            Event.type.in_(LIVE_EVENTS),
            Event.customer_id.in_(members),
            Event.live_session_id.is_not(None),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    for customer_id, live_id in (await session.execute(query)).all():
        if found[int(customer_id)] is None:
            found[int(customer_id)] = int(live_id)
    return found


# ---------------------------------------------------------------- LTV


async def ltv_by_cohort(
    *, session: AsyncSession, shop_id: int, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    """Per first-purchase month in [start, end]: cumulative net revenue (paid − refunded) per
    customer at 0, 1, 2 … months since the first purchase, up to the range's last month."""
    start, end = check_range(start, end)
    zone = await shop_zone(session, shop_id)
    low, high = utc_bounds(start, end, zone)
    query = select(Order.customer_id, Order.paid_at, Order.paid_fen - Order.refunded_fen).where(
        Order.shop_id == shop_id,
        Order.status.in_(PAID_STATUSES),
        Order.customer_id.is_not(None),
        Order.paid_at.is_not(None),
        Order.paid_at < high,
    )
    rows = sorted((await session.execute(query)).all(), key=lambda r: r[1])
    first_at: dict[int, dt.datetime] = {}
    for customer_id, moment, _ in rows:
        first_at.setdefault(customer_id, moment)
    first = {c: period_start(m, "month", zone) for c, m in first_at.items()}
    members = {c for c, m in first_at.items() if m >= low}
    last_month = period_start(high - dt.timedelta(microseconds=1), "month", zone)
    revenue: dict[dt.date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sizes: dict[dt.date, int] = defaultdict(int)
    for c in members:
        sizes[first[c]] += 1
    for customer_id, moment, net in rows:
        if customer_id in members:
            month = first[customer_id]
            revenue[month][period_index(month, period_start(moment, "month", zone), "month")] += (
                int(net)
            )
    cohorts = []
    for month in sorted(sizes):
        width = period_index(month, last_month, "month") + 1
        running, cumulative, per_customer = 0, [], []
        for k in range(width):
            running += revenue[month].get(k, 0)
            cumulative.append(running)
            per_customer.append(half_up(running, sizes[month]))
        cohorts.append(
            {
                "cohort": month.isoformat(),
                "customers": sizes[month],
                "revenue_fen": cumulative,
                "ltv_fen": per_customer,
            }
        )
    return {"start": start.isoformat(), "end": end.isoformat(), "cohorts": cohorts}
