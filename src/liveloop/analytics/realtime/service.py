"""The realtime dashboard's snapshot of a live session: every figure so far, from its events,
orders and stock, in one read (SQLAlchemy Core; SQLite and PostgreSQL agree).

The figures mean what they mean in the post-live report, computed by the same helpers over
the window [started_at, now] (a session still on air runs to `now`, an ended one to its end):
viewers are distinct viewer keys, GMV is what paid orders paid (fen), conversion is paying
customers / viewers. Added for the dashboard:

- online: viewers in the room at `now`. The room's own count (RoomHub) when the caller has it,
  otherwise the viewers whose visit is still open in the events (the room writes them about a
  second behind); 0 once the session is off air. The peak is never below it.
- new / returning viewers: returning = entered an earlier live session of this shop (a
  `live_enter` of another session before this one started); new = every other viewer.
- comments in the last minute: shown comments in the 60 whole seconds up to now's.
- per-minute series: viewers in the room (the report's retention curve), comments, orders
  placed (by created_at) and GMV (by paid_at), minute 0 starting at started_at.
- traffic sources: entries by viewers' share links, broadcast and reminder links (`bc-…`,
  `rm-…` source codes), each entry-link channel (KOL, groups, …) and no link; with each link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.consumption import PRODUCT_CLICK_EVENT, _totals, paid_order, session_orders
from liveloop.analytics.expressions import epoch_floor, epoch_of, json_text, ratio, viewer_key
from liveloop.analytics.interaction import LIKE_EVENT, _shown_comment
from liveloop.analytics.realtime import rollups
from liveloop.analytics.realtime.rollups import Stays
from liveloop.analytics.service import load_live_session, report_window
from liveloop.analytics.viewing import (
    DIRECT_SOURCE,
    SHARE_SOURCE,
    Window,
    curve_of,
    merged_visits,
    session_events,
)
from liveloop.catalog.models import Product, Sku
from liveloop.commerce.models import Order, OrderLine
from liveloop.core.database import utcnow
from liveloop.events.models import Event
from liveloop.live.conditions import COMMENT_EVENT, ENTER_EVENT, LEAVE_EVENT
from liveloop.live.models import (
    LiveEntryLink,
    LiveSession,
    LiveSessionProduct,
    LiveShare,
    LiveStatus,
)

CART_EVENT = rollups.CART_EVENT
MESSAGE_PREFIXES = rollups.MESSAGE_PREFIXES


async def _one(session: AsyncSession, statement: Any) -> Any:
    return (await session.execute(statement)).one()


async def _scalar(session: AsyncSession, statement: Any) -> int:
    return int((await session.execute(statement)).scalar_one_or_none() or 0)


async def _stays(session: AsyncSession, merged: Any, window: Window) -> Stays:
    """The figures of viewing._peak, viewing._curve and watch_seconds_on_air in one pass:
    the stays are read once, as +1 at each start second and -1 at each end second, summed per
    second (at most two rows per second of the window, however many viewers)."""
    stays = merged.element.cte("stays")  # read twice below: both backends materialize it once
    points = union_all(
        select(stays.c.s.label("t"), literal(1).label("d")),
        select(stays.c.e.label("t"), literal(-1).label("d")),
    ).subquery("points")
    rows = await session.execute(
        select(points.c.t, func.sum(points.c.d)).group_by(points.c.t).order_by(points.c.t)
    )
    minutes = window.minutes
    deltas = [0] * (minutes + 1)
    running = peak = seconds = open_at_end = 0
    for t, d in rows:
        t, d = int(t), int(d)
        running += d
        peak = max(peak, running)
        seconds -= t * d  # sum(e - s): every end second counted +, every start second -
        if t >= window.end and d < 0:
            open_at_end -= d
        if minutes:
            deltas[min((t - window.start + 59) // 60, minutes)] += d
    return Stays(open_at_end, peak, seconds, curve_of(deltas, minutes))


async def _viewers(
    session: AsyncSession, shop_id: int, live_session_id: int, starts: dt.datetime
) -> tuple[int, int]:
    """(viewers, returning viewers): distinct viewer keys of the session, and those of them
    who entered an earlier session of this shop before this one started."""
    key = viewer_key()
    here = (
        select(key.label("k"))
        .where(session_events(shop_id, live_session_id, ENTER_EVENT, LEAVE_EVENT))
        .group_by(key)
        .subquery("here")
    )
    earlier = select(key).where(
        Event.shop_id == shop_id,
        Event.type == ENTER_EVENT,
        Event.occurred_at < starts,
        Event.live_session_id.is_not(None),
        Event.live_session_id != live_session_id,
    )
    viewers, returning = await _one(
        session,
        select(
            func.count(),
            func.coalesce(func.sum(case((here.c.k.in_(earlier), 1), else_=0)), 0),
        ).select_from(here),
    )
    return int(viewers), int(returning)


@dataclass
class Interactions:
    """The session's comments, likes, product clicks and add-to-carts, from one scan."""

    counts: dict[str, int]
    comments_per_minute: list[int]  # shown comments on air, per whole minute (the report's)
    per_product: dict[tuple[int, str], int]  # (product id, event type) -> events


async def _interactions(
    session: AsyncSession, shop_id: int, live_session_id: int, window: Window, now: dt.datetime
) -> Interactions:
    """One pass over the session's interaction events, grouped by type, product and minute
    (the report reads them one figure at a time: a refresh cannot afford four scans)."""
    comment = Event.type == COMMENT_EVENT
    shown = and_(comment, _shown_comment())
    now_second = epoch_of(now)
    second = epoch_floor(Event.occurred_at)
    recent = and_(shown, second > now_second - 60, second <= now_second)
    likes = func.coalesce(Event.properties["count"].as_integer(), 0)
    offset = epoch_floor(Event.occurred_at) - window.start
    on_air = case((and_(offset >= 0, offset < window.end - window.start), 1), else_=0)
    minute = case((on_air == 1, offset // 60), else_=-1).label("m")
    # Each row narrowed to small numbers first: grouping the wide rows made PostgreSQL sort
    # them on disk (three times slower than this).
    narrow = (
        select(
            Event.type.label("kind"),
            Event.product_id.label("product_id"),
            minute,
            case((shown, 1), else_=0).label("shown"),
            case((recent, 1), else_=0).label("recent"),
            case((Event.type == LIKE_EVENT, likes), else_=0).label("likes"),
        )
        .where(
            session_events(
                shop_id, live_session_id, COMMENT_EVENT, LIKE_EVENT, PRODUCT_CLICK_EVENT, CART_EVENT
            )
        )
        .subquery("interactions")
    )
    c = narrow.c
    rows = await session.execute(
        select(
            c.kind, c.product_id, c.m, func.count(), func.sum(c.shown), func.sum(c.recent),
            func.sum(c.likes),
        ).group_by(c.kind, c.product_id, c.m)
    )  # fmt: skip
    counts = dict.fromkeys(
        ("comments", "comments_last_minute", "likes", "product_clicks", "add_to_cart"), 0
    )
    series = [0] * window.minutes
    per_product: dict[tuple[int, str], int] = {}
    for kind, product_id, m, number, shown_n, recent_n, liked in rows:
        number, shown_n = int(number), int(shown_n or 0)
        counts["comments"] += shown_n
        counts["comments_last_minute"] += int(recent_n or 0)
        counts["likes"] += int(liked or 0)
        if kind == PRODUCT_CLICK_EVENT:
            counts["product_clicks"] += number
        elif kind == CART_EVENT:
            counts["add_to_cart"] += number
        if 0 <= int(m) < window.minutes:
            series[int(m)] += shown_n
        if product_id is not None and kind in (PRODUCT_CLICK_EVENT, CART_EVENT):
            key = (int(product_id), str(kind))
            per_product[key] = per_product.get(key, 0) + number
    return Interactions(counts, series, per_product)


async def _per_minute(
    session: AsyncSession, column: Any, value: Any, where: Any, window: Window
) -> list[int]:
    """sum(value) per whole minute of the window, by the moment in `column`."""
    minutes = window.minutes
    if minutes == 0:
        return []
    offset = epoch_floor(column) - window.start
    bucket = (offset // 60).label("m")
    rows = await session.execute(
        select(bucket, func.sum(value))
        .where(where, offset >= 0, offset < window.end - window.start)
        .group_by(bucket)
    )
    series = [0] * minutes
    for minute, number in rows:
        if 0 <= int(minute) < minutes:
            series[int(minute)] += int(number or 0)
    return series


async def _products(
    session: AsyncSession, shop_id: int, live_session_id: int, events: dict[tuple[int, str], int]
) -> list[dict[str, Any]]:
    """The line-up and every product clicked, carted or ordered in the session: clicks,
    add-to-carts, orders placed with it, paid units, GMV (paid line totals less their share
    of the coupon) and the stock left on its active SKUs now."""
    rows: dict[int, dict[str, Any]] = {}

    def row(product_id: int) -> dict[str, Any]:
        return rows.setdefault(
            product_id,
            {"product_id": product_id, "name": "", "position": None, "clicks": 0, "carts": 0,
             "orders": 0, "paid_units": 0, "gmv_fen": 0, "stock": 0},
        )  # fmt: skip

    lineup = await session.execute(
        select(LiveSessionProduct.product_id, LiveSessionProduct.position).where(
            LiveSessionProduct.shop_id == shop_id,
            LiveSessionProduct.live_session_id == live_session_id,
        )
    )
    for product_id, position in lineup:
        row(int(product_id))["position"] = int(position)
    for (product_id, kind), number in events.items():
        row(product_id)["clicks" if kind == PRODUCT_CLICK_EVENT else "carts"] = number
    paid = paid_order()
    lines = await session.execute(
        select(
            OrderLine.product_id,
            func.count(func.distinct(Order.id)),
            func.coalesce(func.sum(case((paid, OrderLine.quantity), else_=0)), 0),
            func.coalesce(
                func.sum(case((paid, OrderLine.line_total_fen - OrderLine.discount_fen), else_=0)),
                0,
            ),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            session_orders(shop_id, live_session_id),
            OrderLine.shop_id == shop_id,
            OrderLine.product_id.is_not(None),
        )
        .group_by(OrderLine.product_id)
    )
    for product_id, orders, units, fen in lines:
        found = row(int(product_id))
        found["orders"], found["paid_units"], found["gmv_fen"] = int(orders), int(units), int(fen)
    if rows:
        stock = func.coalesce(func.sum(case((Sku.is_active.is_(True), Sku.stock), else_=0)), 0)
        products = await session.execute(
            select(Product.id, Product.name, stock)
            .outerjoin(Sku, and_(Sku.product_id == Product.id, Sku.shop_id == shop_id))
            .where(Product.shop_id == shop_id, Product.id.in_(list(rows)))
            .group_by(Product.id, Product.name)
        )
        for product_id, name, left in products:
            rows[int(product_id)].update(name=name, stock=int(left))
    return sorted(
        rows.values(),
        key=lambda r: (r["position"] is None, r["position"] or 0, -r["gmv_fen"], r["product_id"]),
    )


def _source_kind(share: Any, code: Any, link: Any) -> Any:
    whens: list[Any] = [(share != "", literal(SHARE_SOURCE))]
    whens += [(code.startswith(prefix), literal(kind)) for kind, prefix in MESSAGE_PREFIXES]
    whens.append((link.id.is_not(None), link.channel))
    return case(*whens, else_=literal(DIRECT_SOURCE))


async def _sources(session: AsyncSession, shop_id: int, live_session_id: int) -> dict[str, Any]:
    """Entries and viewers by where they came through; the report's `viewing._sources` with
    the shop's own messages (broadcasts, reminders) told apart from entries with no link."""
    share = json_text(Event.properties, "share_code")
    code = json_text(Event.properties, "source_code")
    link = LiveEntryLink
    on_link = and_(
        link.code == code, link.shop_id == shop_id, link.live_session_id == live_session_id
    )
    kind = _source_kind(share, code, link).label("kind")
    where = session_events(shop_id, live_session_id, ENTER_EVENT)
    by_kind = await session.execute(
        select(kind, func.count(), func.count(func.distinct(viewer_key())))
        .select_from(Event)
        .outerjoin(link, on_link)
        .where(where)
        .group_by(kind)
        .order_by(func.count().desc(), kind)
    )
    channels = [
        {"source": str(source), "visits": int(visits), "viewers": int(viewers)}
        for source, visits, viewers in by_kind
    ]
    by_link = await session.execute(
        select(link.id, link.channel, link.label, link.code, func.count(),
               func.count(func.distinct(viewer_key())))
        .select_from(Event)
        .join(link, on_link)
        .where(where, share == "")
        .group_by(link.id, link.channel, link.label, link.code)
        .order_by(func.count().desc(), link.id)
    )  # fmt: skip
    links = [
        {"link_id": int(i), "channel": channel, "label": label, "code": c,
         "visits": int(visits), "viewers": int(viewers)}
        for i, channel, label, c, visits, viewers in by_link
    ]  # fmt: skip
    return {"channels": channels, "links": links}


def _session_facts(live_session: LiveSession, starts: dt.datetime, ends: dt.datetime) -> Any:
    return {
        "id": live_session.id,
        "title": live_session.title,
        "status": live_session.status,
        "started_at": None if live_session.started_at is None else starts.isoformat(),
        "ended_at": None if live_session.ended_at is None else ends.isoformat(),
        "window_start": starts.isoformat(),
        "window_end": ends.isoformat(),
        "duration_seconds": epoch_of(ends) - epoch_of(starts),
    }


async def _from_rollups(
    session: AsyncSession, live_session: LiveSession, window: Window, now: dt.datetime
) -> tuple[int, int, Stays, Interactions, dict[str, Any]] | None:
    """What `build_snapshot` reads from the events, read from the session's rollups; None
    while they are rebuilt in the background."""
    state = await rollups.ready_state(session, live_session)
    if state is None:
        return None
    live_session_id = live_session.id
    stays = await rollups.stays(session, live_session_id, window.start, window.end)
    counts = dict.fromkeys(
        ("comments", "comments_last_minute", "likes", "product_clicks", "add_to_cart"), 0
    )
    per_product: dict[tuple[int, str], int] = {}
    for kind, product_id, number, shown, likes in await rollups.counts(session, live_session_id):
        counts["comments"] += shown
        counts["likes"] += likes
        if kind == PRODUCT_CLICK_EVENT:
            counts["product_clicks"] += number
        elif kind == CART_EVENT:
            counts["add_to_cart"] += number
        if product_id and kind in (PRODUCT_CLICK_EVENT, CART_EVENT):
            per_product[(product_id, kind)] = per_product.get((product_id, kind), 0) + number
    now_second = epoch_of(now)
    counts["comments_last_minute"] = await rollups.comments_between(
        session, live_session_id, now_second - 60, now_second
    )
    series = await rollups.comments_per_minute(session, live_session_id, window.start, window.end)
    interactions = Interactions(counts, series, per_product)
    sources = await _rollup_sources(session, live_session)
    return state.viewers, state.returning_viewers, stays, interactions, sources


async def _rollup_sources(session: AsyncSession, live_session: LiveSession) -> dict[str, Any]:
    rows = await rollups.sources(session, live_session.id)
    channels = sorted(
        (
            {"source": key, "visits": visits, "viewers": viewers}
            for dimension, key, visits, viewers in rows
            if dimension == rollups.KIND
        ),
        key=lambda row: (-row["visits"], row["source"]),
    )
    by_link = {int(key): (visits, viewers) for d, key, visits, viewers in rows if d == rollups.LINK}
    links = []
    if by_link:
        found = await session.execute(
            select(
                LiveEntryLink.id, LiveEntryLink.channel, LiveEntryLink.label, LiveEntryLink.code
            ).where(
                LiveEntryLink.shop_id == live_session.shop_id,
                LiveEntryLink.id.in_(sorted(by_link)),
            )
        )
        for link_id, channel, label, code in found:
            visits, viewers = by_link[int(link_id)]
            links.append(
                {"link_id": int(link_id), "channel": channel, "label": label, "code": code,
                 "visits": visits, "viewers": viewers}
            )  # fmt: skip
        links.sort(key=lambda row: (-row["visits"], row["link_id"]))
    return {"channels": channels, "links": links}


async def _from_events(
    session: AsyncSession, live_session: LiveSession, window: Window, now: dt.datetime
) -> tuple[int, int, Stays, Interactions, dict[str, Any]]:
    shop_id, live_session_id = live_session.shop_id, live_session.id
    starts, _ = report_window(live_session, now)
    merged = merged_visits(shop_id, live_session_id, window)
    viewers, returning = await _viewers(session, shop_id, live_session_id, starts)
    stays = await _stays(session, merged, window)
    interactions = await _interactions(session, shop_id, live_session_id, window, now)
    sources = await _sources(session, shop_id, live_session_id)
    return viewers, returning, stays, interactions, sources


async def build_snapshot(
    *,
    session: AsyncSession,
    live_session: LiveSession,
    now: dt.datetime,
    room_online: int | None = None,
    from_events: bool = False,
) -> dict[str, Any]:
    """The snapshot, its room figures read from the session's rollups (rebuilt first where
    they cannot be trusted); `from_events` computes them from the raw events instead, the
    reference the rollups are tested against (and what they cost without them). A big
    session's rollups are rebuilt by a background job, and until it is done the figures are
    the raw events' (`read_from`: "rebuilding"; otherwise "rollups" or "events")."""
    shop_id, live_session_id = live_session.shop_id, live_session.id
    starts, ends = report_window(live_session, now)
    window = Window(epoch_of(starts), epoch_of(ends))
    found = None if from_events else await _from_rollups(session, live_session, window, now)
    read_from = "rollups" if found is not None else "events" if from_events else "rebuilding"
    if found is None:
        found = await _from_events(session, live_session, window, now)
    viewers, returning, stays, interactions, sources = found
    online, online_source = 0, "room"
    if live_session.status == LiveStatus.LIVE.value:
        if room_online is None:
            online, online_source = stays.open_at_end, "events"
        else:
            online = room_online
    totals = await _totals(session, shop_id, live_session_id)
    shares = await _scalar(
        session,
        select(func.count()).where(
            LiveShare.shop_id == shop_id, LiveShare.live_session_id == live_session_id
        ),
    )
    mine = session_orders(shop_id, live_session_id)
    figures = {
        "online": online,
        "online_source": online_source,
        "peak_online": max(stays.peak, online),
        "viewers": viewers,
        "new_viewers": viewers - returning,
        "returning_viewers": returning,
        "watch_seconds_avg": ratio(stays.seconds, viewers, 1),
        **interactions.counts,
        "shares": shares,
        "orders": totals["orders"],
        "paid_orders": totals["paid_orders"],
        "paying_customers": totals["paying_customers"],
        "gmv_fen": totals["gmv_fen"],
        "refunded_fen": totals["refunded_fen"],
        "conversion_rate": ratio(totals["paying_customers"], viewers),
    }
    series = {
        "minutes": list(range(window.minutes)),
        "online": stays.curve,
        "comments": interactions.comments_per_minute,
        "orders": await _per_minute(session, Order.created_at, literal(1), mine, window),
        "gmv_fen": await _per_minute(
            session, Order.paid_at, Order.paid_fen, and_(mine, paid_order()), window
        ),
    }
    return {
        "live_session_id": live_session_id,
        "generated_at": now.isoformat(),
        "read_from": read_from,
        "session": _session_facts(live_session, starts, ends),
        "figures": figures,
        "series": series,
        "products": await _products(session, shop_id, live_session_id, interactions.per_product),
        "sources": sources,
    }


async def realtime_snapshot(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    now: dt.datetime | None = None,
    room_online: int | None = None,
) -> dict[str, Any]:
    """The dashboard's figures of this shop's session now (NotFound for another shop's).
    `room_online`: the room's own count of viewers online, where the caller has it."""
    live_session = await load_live_session(
        session=session, shop_id=shop_id, live_session_id=live_session_id
    )
    return await build_snapshot(
        session=session, live_session=live_session, now=now or utcnow(), room_online=room_online
    )
