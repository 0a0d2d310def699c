"""The users section of a post-live report: who the session's viewers and buyers were —
new or existing customers, first-time or returning buyers, private-domain or public traffic,
by member tier, lifecycle stage, region and community.

"People" are the session's customer viewers (a live_enter/live_leave with a customer) plus its
paying customers (a buyer who paid without the room seeing them is still a buyer). Tier and
lifecycle stage are the customer's current ones, read when the report is generated; a
community counts its members whose stay overlapped the session.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.consumption import paid_order, session_orders
from liveloop.analytics.expressions import json_text, viewer_key
from liveloop.analytics.viewing import session_events
from liveloop.commerce.models import Order
from liveloop.customers.communities.models import Community, CommunityMember
from liveloop.customers.models import Customer
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.rfm.models import CustomerLifecycle
from liveloop.events.models import Event
from liveloop.live.conditions import ENTER_EVENT, LEAVE_EVENT
from liveloop.live.models import EntryChannel, LiveEntryLink

UNKNOWN = "unknown"
NO_TIER = "none"
PRIVATE = "private"
PUBLIC = "public"
# Where the shop reaches its own people (private domain, 私域) and where a room is found by
# strangers (public traffic, 公域). A viewer's share link is the private relationship chain.
PRIVATE_CHANNELS = (
    EntryChannel.GROUP.value,
    EntryChannel.OFFICIAL_ACCOUNT.value,
    EntryChannel.MALL.value,
    EntryChannel.STAFF.value,
)
PUBLIC_CHANNELS = (EntryChannel.VIDEO_CHANNEL.value, EntryChannel.KOL.value)


def people(shop_id: int, live_session_id: int) -> Any:
    """(customer_id, viewer 0/1, buyer 0/1, gmv_fen): one row per customer of the session."""
    viewers = select(
        Event.customer_id.label("customer_id"),
        literal(1).label("viewer"),
        literal(0).label("buyer"),
        literal(0).label("gmv"),
    ).where(
        session_events(shop_id, live_session_id, ENTER_EVENT, LEAVE_EVENT),
        Event.customer_id.is_not(None),
    )
    buyers = select(
        Order.customer_id.label("customer_id"),
        literal(0).label("viewer"),
        literal(1).label("buyer"),
        Order.paid_fen.label("gmv"),
    ).where(session_orders(shop_id, live_session_id), paid_order(), Order.customer_id.is_not(None))
    both = union_all(viewers, buyers).subquery("both")
    return (
        select(
            both.c.customer_id,
            func.max(both.c.viewer).label("viewer"),
            func.max(both.c.buyer).label("buyer"),
            func.sum(both.c.gmv).label("gmv"),
        )
        .group_by(both.c.customer_id)
        .subquery("people")
    )


def _rows(result: Any) -> list[dict[str, Any]]:
    rows = [
        {"key": str(key), "viewers": int(v), "buyers": int(b), "gmv_fen": int(g)}
        for key, v, b, g in result
    ]
    return sorted(rows, key=lambda r: (-r["viewers"], -r["buyers"], r["key"]))


def _tally(people_rows: list[Any], column: int) -> list[dict[str, Any]]:
    """Viewers, buyers and GMV of the people by the key in `column` of their rows."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in people_rows:
        figures = sums[str(row[column])]
        figures[0] += int(row[0])
        figures[1] += int(row[1])
        figures[2] += int(row[2] or 0)
    return _rows((key, v, b, g) for key, (v, b, g) in sums.items())


async def _traffic(session: AsyncSession, shop_id: int, live_session_id: int) -> list[Any]:
    """Viewers by private-domain or public traffic, from each viewer's first entry: a private
    channel's link or a viewer's share link is private, a public channel's (video channel,
    KOL) public; with no link (or "other") a known customer is private, a guest public.
    Buyers and GMV are the paid orders of those viewers in this session."""
    key = viewer_key()
    rank = func.row_number().over(partition_by=key, order_by=(Event.occurred_at, Event.id))
    entries = (
        select(
            key.label("viewer"),
            Event.customer_id.label("customer_id"),
            json_text(Event.properties, "share_code").label("share"),
            json_text(Event.properties, "source_code").label("code"),
            rank.label("n"),
        )
        .where(session_events(shop_id, live_session_id, ENTER_EVENT))
        .subquery("entries")
    )
    link = LiveEntryLink
    on_link = and_(
        link.code == entries.c.code,
        link.shop_id == shop_id,
        link.live_session_id == live_session_id,
    )
    kind = case(
        (entries.c.share != "", literal(PRIVATE)),
        (link.channel.in_(PRIVATE_CHANNELS), literal(PRIVATE)),
        (link.channel.in_(PUBLIC_CHANNELS), literal(PUBLIC)),
        (entries.c.customer_id.is_not(None), literal(PRIVATE)),
        else_=literal(PUBLIC),
    ).label("key")
    paid = (
        select(
            Order.customer_id.label("customer_id"),
            func.sum(Order.paid_fen).label("gmv"),
        )
        .where(session_orders(shop_id, live_session_id), paid_order())
        .group_by(Order.customer_id)
        .subquery("paid")
    )
    rows = await session.execute(
        select(
            kind,
            func.count(),
            func.count(paid.c.customer_id),
            func.coalesce(func.sum(paid.c.gmv), 0),
        )
        .select_from(entries)
        .outerjoin(link, on_link)
        .outerjoin(paid, paid.c.customer_id == entries.c.customer_id)
        .where(entries.c.n == 1)
        .group_by(kind)
    )
    return _rows(rows)


async def users_section(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    starts: dt.datetime,
    ends: dt.datetime,
) -> dict[str, Any]:
    p = people(shop_id, live_session_id)
    joined = func.coalesce(Customer.first_seen_at, Customer.created_at)
    earlier = (
        select(Order.id)
        .where(
            Order.shop_id == shop_id,
            Order.customer_id == p.c.customer_id,
            paid_order(),
            Order.paid_at < starts,
            or_(Order.live_session_id.is_(None), Order.live_session_id != live_session_id),
        )
        .exists()
    )
    # One row per person with every key they are broken down by (each join is one row per
    # customer), so the session's events are grouped into people once, not once per table.
    people_rows = (
        await session.execute(
            select(
                p.c.viewer,
                p.c.buyer,
                p.c.gmv,
                case((joined >= starts, literal("new")), else_=literal("existing")),
                case(
                    (p.c.buyer != 1, None),
                    (earlier, literal("returning")),
                    else_=literal("first_purchase"),
                ),
                func.coalesce(MemberTier.name, literal(NO_TIER)),
                func.coalesce(CustomerLifecycle.stage, literal(UNKNOWN)),
                func.coalesce(func.nullif(Customer.province, ""), literal(UNKNOWN)),
            )
            .select_from(p)
            .outerjoin(Customer, and_(Customer.id == p.c.customer_id, Customer.shop_id == shop_id))
            .outerjoin(
                CustomerPoints,
                and_(CustomerPoints.customer_id == p.c.customer_id, CustomerPoints.shop_id == shop_id),
            )
            .outerjoin(MemberTier, MemberTier.id == CustomerPoints.tier_id)
            .outerjoin(
                CustomerLifecycle,
                and_(
                    CustomerLifecycle.customer_id == p.c.customer_id,
                    CustomerLifecycle.shop_id == shop_id,
                ),
            )
        )
    ).all()  # fmt: skip
    buyer_rows = {
        row["key"]: {"buyers": row["buyers"], "gmv_fen": row["gmv_fen"]}
        for row in _tally([row for row in people_rows if row[4] is not None], 4)
    }
    member = and_(
        CommunityMember.shop_id == shop_id,
        CommunityMember.customer_id == p.c.customer_id,
        CommunityMember.joined_at <= ends,
        or_(CommunityMember.left_at.is_(None), CommunityMember.left_at > starts),
    )
    community_rows = await session.execute(
        select(
            Community.id,
            Community.name,
            func.count(func.distinct(case((p.c.viewer == 1, p.c.customer_id), else_=None))),
            func.count(func.distinct(case((p.c.buyer == 1, p.c.customer_id), else_=None))),
        )
        .select_from(p)
        .join(CommunityMember, member)
        .join(Community, Community.id == CommunityMember.community_id)
        .group_by(Community.id, Community.name)
        .order_by(Community.id)
    )
    communities: list[dict[str, Any]] = [
        {"community_id": int(i), "name": name, "viewers": int(v), "buyers": int(b)}
        for i, name, v, b in community_rows
    ]
    communities.sort(key=lambda r: (-r["viewers"], -r["buyers"], r["community_id"]))
    return {
        "customers": _tally(people_rows, 3),
        "buyers": {
            kind: buyer_rows.get(kind, {"buyers": 0, "gmv_fen": 0})
            for kind in ("first_purchase", "returning")
        },
        "traffic": await _traffic(session, shop_id, live_session_id),
        "tiers": _tally(people_rows, 5),
        "lifecycle": _tally(people_rows, 6),
        "regions": _tally(people_rows, 7),
        "communities": communities,
    }
