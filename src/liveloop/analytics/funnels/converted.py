"""Converted vs not converted for one live session: its paying customers, and the viewers who
did not pay, each with their profile (masked unless the role may reveal it), time in the room
on air and the product cards they clicked; a static segment of either group.

Converted: a customer with a paid order of the session (paid_at set, whatever came after).
Not converted: anyone who entered the room (customer or guest) without one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.consumption import PRODUCT_CLICK_EVENT, paid_order, session_orders
from liveloop.analytics.expressions import epoch_of, viewer_key
from liveloop.analytics.funnels.service import (
    GUEST,
    MAX_DROPS_PAGE,
    NO_TIER,
    audit_reveal,
    first_sources,
)
from liveloop.analytics.funnels.steps import Scope
from liveloop.analytics.viewing import Window, merged_visits, session_events
from liveloop.catalog.models import Product
from liveloop.commerce.models import Order
from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from liveloop.customers.models import Customer
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.segments import service as segments_service
from liveloop.customers.segments.service import mask_name
from liveloop.events.models import Event
from liveloop.live.conditions import ENTER_EVENT, LEAVE_EVENT
from liveloop.shops.service import Actor

GROUPS = ("converted", "not_converted")


def check_group(group: str) -> str:
    if group not in GROUPS:
        raise InvalidInput(
            f"unknown group {group}; use converted or not_converted",
            code="unknown_group",
            field="group",
        )
    return group


async def _people(session: AsyncSession, scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Both groups, whole, sorted: buyers by money paid, the others by time in the room."""
    shop_id, live_id = scope.shop_id, scope.live_session_id
    assert live_id is not None
    paid: dict[int, tuple[int, int]] = {}
    for customer_id, orders, fen in await session.execute(
        select(Order.customer_id, func.count(), func.sum(Order.paid_fen))
        .where(session_orders(shop_id, live_id), paid_order(), Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
    ):
        paid[int(customer_id or 0)] = (int(orders), int(fen))
    key = viewer_key()
    viewers = {
        str(viewer): None if customer_id is None else int(customer_id)
        for viewer, customer_id in await session.execute(
            select(key, func.max(Event.customer_id))
            .where(session_events(shop_id, live_id, ENTER_EVENT, LEAVE_EVENT))
            .group_by(key)
        )
    }
    merged = merged_visits(shop_id, live_id, Window(epoch_of(scope.starts), epoch_of(scope.ends)))
    watched = {
        str(viewer): int(seconds)
        for viewer, seconds in await session.execute(
            select(merged.c.viewer, func.sum(merged.c.e - merged.c.s)).group_by(merged.c.viewer)
        )
    }
    converted: list[dict[str, Any]] = [
        {
            "viewer": f"c:{customer_id}",
            "customer_id": customer_id,
            "paid_orders": orders,
            "paid_fen": fen,
            "watch_seconds": watched.get(f"c:{customer_id}", 0),
            "in_room": f"c:{customer_id}" in viewers,
        }
        for customer_id, (orders, fen) in paid.items()
    ]
    converted.sort(key=lambda p: (-p["paid_fen"], p["customer_id"]))
    others: list[dict[str, Any]] = [
        {
            "viewer": viewer,
            "customer_id": customer_id,
            "paid_orders": 0,
            "paid_fen": 0,
            "watch_seconds": watched.get(viewer, 0),
            "in_room": True,
        }
        for viewer, customer_id in viewers.items()
        if customer_id is None or customer_id not in paid
    ]
    others.sort(key=lambda p: (-p["watch_seconds"], p["viewer"]))
    return {"converted": converted, "not_converted": others}


async def _profiles(
    session: AsyncSession, scope: Scope, page: list[dict[str, Any]], masked: bool
) -> None:
    """Name, region, tier, new/returning, entry source and clicks onto each row of the page."""
    shop_id, live_id = scope.shop_id, scope.live_session_id or 0
    ids = [p["customer_id"] for p in page if p["customer_id"] is not None]
    profiles: dict[int, Any] = {}
    if ids:
        rows = await session.execute(
            select(
                Customer.id,
                Customer.display_name,
                Customer.province,
                Customer.city,
                Customer.first_seen_at,
                MemberTier.name,
            )
            .outerjoin(
                CustomerPoints,
                (CustomerPoints.customer_id == Customer.id) & (CustomerPoints.shop_id == shop_id),
            )
            .outerjoin(MemberTier, MemberTier.id == CustomerPoints.tier_id)
            .where(Customer.shop_id == shop_id, Customer.id.in_(ids))
        )
        profiles = {int(row[0]): row for row in rows}
    keys = [p["viewer"] for p in page]
    sources_q = first_sources(scope)
    sources = {
        str(v): str(s)
        for v, s in await session.execute(
            select(sources_q.c.viewer, sources_q.c.source).where(sources_q.c.viewer.in_(keys))
        )
    }
    clicks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    key = viewer_key()
    for viewer, product_id, name, count in await session.execute(
        select(key, Event.product_id, Product.name, func.count())
        .outerjoin(Product, Product.id == Event.product_id)
        .where(
            session_events(shop_id, live_id, PRODUCT_CLICK_EVENT),
            key.in_(keys),
            Event.product_id.is_not(None),
        )
        .group_by(key, Event.product_id, Product.name)
        .order_by(func.count().desc(), Event.product_id)
    ):
        clicks[str(viewer)].append(
            {"product_id": int(product_id), "name": name or "", "clicks": int(count)}
        )
    for person in page:
        original = person["viewer"]
        person["source"] = sources.get(original)
        person["clicked"] = clicks.get(original, [])
        profile = profiles.get(person["customer_id"]) if person["customer_id"] else None
        if profile is None:
            # a guest: the anonymous id is a device id, never shown
            person.update(viewer=GUEST, name=None, province=None, city=None, tier=NO_TIER)
            person["kind"] = GUEST
            continue
        _, name, province, city, first_seen, tier = profile
        returning = first_seen is not None and first_seen < scope.starts
        person.update(
            name=mask_name(name) if masked else (name or "—"),
            province=province,
            city=city,
            tier=tier or NO_TIER,
            kind="returning" if returning else "new",
        )


async def converted_report(
    *,
    session: AsyncSession,
    actor: Actor,
    scope: Scope,
    group: str,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of a group, with both groups' sizes and averages."""
    check_group(group)
    if not 1 <= limit <= MAX_DROPS_PAGE or offset < 0:
        raise InvalidInput(
            f"limit must be 1 to {MAX_DROPS_PAGE} and offset 0 or more",
            code="invalid_page",
            field="limit",
        )
    everyone = await _people(session, scope)
    chosen = everyone[group]
    page = [dict(p) for p in chosen[offset : offset + limit]]
    masked = not actor.can("customers.reveal_pii")
    await _profiles(session, scope, page, masked)
    if not masked and page:
        await audit_reveal(session, actor, scope, f"{group} viewers", len(page))
    summary = {}
    for name, people in everyone.items():
        count = len(people)
        summary[name] = {
            "count": count,
            "customers": sum(1 for p in people if p["customer_id"] is not None),
            "watch_seconds_avg": round(sum(p["watch_seconds"] for p in people) / count, 1)
            if count
            else 0.0,
            "paid_fen": sum(p["paid_fen"] for p in people),
        }
    return {
        "scope": scope.describe(),
        "group": group,
        "masked": masked,
        "summary": summary,
        "total": len(chosen),
        "limit": limit,
        "offset": offset,
        "people": page,
    }


async def segment_from_group(
    *, session: AsyncSession, actor: Actor, scope: Scope, group: str, name: str | None = None
) -> Any:
    """A static segment of the group's customers (guests have no id to keep)."""
    check_group(group)
    everyone = await _people(session, scope)
    ids = [p["customer_id"] for p in everyone[group] if p["customer_id"] is not None]
    now = utcnow()
    label = "paying customers" if group == "converted" else "viewers who did not buy"
    return await segments_service.create_segment_from_ids(
        session=session,
        actor=actor,
        name=(name or "").strip()
        or f"Live {scope.live_session_id} · {label} · {now:%Y-%m-%d %H:%M:%S}",
        description=f"Frozen from live session {scope.live_session_id}: {label}.",
        customer_ids=ids,
        now=now,
    )
