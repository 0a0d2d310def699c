"""Touchpoints per customer, gathered from what the shop already records, and the journey of
each paid order: its customer's touchpoints within the lookback window before it was placed.

Where touchpoints come from (docs/attribution.md, "Touchpoints"):
  - room entries (`live_enter` events): the entry's source code — a broadcast click
    `bc-{broadcast}-{recipient}`, an entry link (a KOL link is channel "kol"), an affiliate's
    code — its share code (a viewer's share link, "share"), and the live session itself;
  - channel-code arrivals (活码: "channel_code", a code of kind kol is "kol");
  - the order's own codes (promo code, share code, source code) and live session, at the
    moment it was placed, when the journey does not already hold them.
A re-entry into the same session only adds touchpoints the customer did not have in it yet.
An order with no touchpoint at all is credited to one "direct" touchpoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.attribution.credit import Touch
from liveloop.analytics.expressions import json_text
from liveloop.commerce.affiliates.models import Affiliate, AffiliateCode
from liveloop.commerce.models import Order
from liveloop.customers.channel_codes.models import ChannelCode, ChannelCodeArrival
from liveloop.events.models import Event
from liveloop.live.conditions import ENTER_EVENT
from liveloop.live.models import EntryChannel, LiveEntryLink, LiveSession

BROADCAST = "broadcast"
CHANNEL_CODE = "channel_code"
KOL = "kol"
ENTRY_LINK = "entry_link"
SHARE = "share"
LIVE_SESSION = "live_session"
OTHER = "other"
DIRECT = "direct"
CHANNELS: tuple[str, ...] = (
    BROADCAST,
    CHANNEL_CODE,
    KOL,
    ENTRY_LINK,
    SHARE,
    LIVE_SESSION,
    OTHER,
    DIRECT,
)
BROADCAST_PREFIX = "bc-"
CHUNK = 500


@dataclass(frozen=True)
class Touchpoint:
    at: dt.datetime
    channel: str
    key: str  # one touchpoint across journeys: "broadcast:12", "live:3", "share:AB12", ...
    label: str
    seq: int = 0  # keeps touchpoints of the same moment in the order they were made


@dataclass
class Scope:
    """Orders paid in [starts, ends) of the shop, or (live_session_id set) the session's paid
    orders, whenever paid; starts/ends are then its on-air window."""

    shop_id: int
    starts: dt.datetime
    ends: dt.datetime
    live_session_id: int | None = None


@dataclass
class OrderJourney:
    order_id: int
    number: str
    customer_id: int | None
    value_fen: int
    placed_at: dt.datetime
    touchpoints: list[Touchpoint] = field(default_factory=list)

    def touches(self) -> list[Touch]:
        return [
            Touch(channel=t.channel, age_s=max(int((self.placed_at - t.at).total_seconds()), 0))
            for t in self.touchpoints
        ]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _chunks(values: Iterable[Any]) -> list[list[Any]]:
    items = sorted(set(values))
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


@dataclass
class CodeBook:
    """What the shop's codes stand for: entry links, affiliates' codes, channel codes, sessions."""

    links: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    affiliates: dict[str, tuple[int, str]] = field(default_factory=dict)
    sessions: dict[int, str] = field(default_factory=dict)

    def source(self, code: str) -> tuple[str, str, str] | None:
        """(channel, key, label) of a source code; None for no code."""
        if not code:
            return None
        if code.startswith(BROADCAST_PREFIX):
            broadcast = code[len(BROADCAST_PREFIX) :].split("-", 1)[0]
            return BROADCAST, f"broadcast:{broadcast}", f"#{broadcast}"
        if code in self.affiliates:
            affiliate_id, name = self.affiliates[code]
            return KOL, f"affiliate:{affiliate_id}", name
        if code in self.links:
            link_id, channel, label = self.links[code]
            kind = KOL if channel == EntryChannel.KOL.value else ENTRY_LINK
            return kind, f"entry_link:{link_id}", label or channel
        return OTHER, f"source:{code}", code

    def share(self, code: str) -> tuple[str, str, str] | None:
        if not code:
            return None
        if code in self.affiliates:
            return self.source(code)
        return SHARE, f"share:{code}", code

    def session(self, live_session_id: int) -> tuple[str, str, str]:
        title = self.sessions.get(live_session_id, f"#{live_session_id}")
        return LIVE_SESSION, f"live:{live_session_id}", title


async def load_code_book(
    session: AsyncSession, shop_id: int, codes: set[str], session_ids: set[int]
) -> CodeBook:
    book = CodeBook()
    for chunk in _chunks(c for c in codes if c and not c.startswith(BROADCAST_PREFIX)):
        links = await session.execute(
            select(LiveEntryLink.code, LiveEntryLink.id, LiveEntryLink.channel, LiveEntryLink.label)
            .where(LiveEntryLink.shop_id == shop_id, LiveEntryLink.code.in_(chunk))
        )  # fmt: skip
        book.links.update({code: (i, channel, label) for code, i, channel, label in links})
        affiliates = await session.execute(
            select(AffiliateCode.code, Affiliate.id, Affiliate.name)
            .join(Affiliate, Affiliate.id == AffiliateCode.affiliate_id)
            .where(AffiliateCode.shop_id == shop_id, AffiliateCode.code.in_(chunk))
        )  # fmt: skip
        book.affiliates.update({code: (i, name) for code, i, name in affiliates})
    for chunk in _chunks(session_ids):
        titles = await session.execute(
            select(LiveSession.id, LiveSession.title).where(
                LiveSession.shop_id == shop_id, LiveSession.id.in_(chunk)
            )
        )
        book.sessions.update({int(i): str(title) for i, title in titles})
    return book


async def collect_touchpoints(
    session: AsyncSession,
    *,
    shop_id: int,
    customers: Any,
    since: dt.datetime,
    until: dt.datetime,
    extra_codes: set[str] | None = None,
    extra_sessions: set[int] | None = None,
) -> tuple[dict[int, list[Touchpoint]], CodeBook]:
    """Touchpoints of the customers in `customers` (a SELECT of customer ids) made in
    [since, until], oldest first per customer, and the code book that named them (with the
    `extra_codes` / `extra_sessions` the caller will need named too)."""
    entries = (
        await session.execute(
            select(
                Event.customer_id,
                Event.live_session_id,
                Event.occurred_at,
                Event.id,
                json_text(Event.properties, "source_code"),
                json_text(Event.properties, "share_code"),
            )
            .where(
                Event.shop_id == shop_id,
                Event.type == ENTER_EVENT,
                Event.customer_id.in_(customers),
                Event.occurred_at >= since,
                Event.occurred_at <= until,
            )
            .order_by(Event.customer_id, Event.occurred_at, Event.id)
        )
    ).all()
    arrivals = (
        await session.execute(
            select(
                ChannelCodeArrival.customer_id,
                ChannelCodeArrival.arrived_at,
                ChannelCodeArrival.id,
                ChannelCode.id,
                ChannelCode.kind,
                ChannelCode.name,
            )
            .join(ChannelCode, ChannelCode.id == ChannelCodeArrival.channel_code_id)
            .where(
                ChannelCodeArrival.shop_id == shop_id,
                ChannelCodeArrival.customer_id.in_(customers),
                ChannelCodeArrival.arrived_at >= since,
                ChannelCodeArrival.arrived_at <= until,
            )
        )
    ).all()
    codes = {row[4] for row in entries} | {row[5] for row in entries} | (extra_codes or set())
    sessions = {int(row[1]) for row in entries if row[1] is not None} | (extra_sessions or set())
    book = await load_code_book(session, shop_id, codes, sessions)

    found: dict[int, list[Touchpoint]] = {}
    seen: set[tuple[int, int | None, str]] = set()
    seq = 0
    for customer_id, live_id, occurred_at, _id, source, share in entries:
        at = _utc(occurred_at)
        named = [book.source(source), book.share(share)]
        if live_id is not None:
            named.append(book.session(int(live_id)))
        for item in named:
            if item is None or (customer_id, live_id, item[1]) in seen:
                continue
            seen.add((customer_id, live_id, item[1]))
            seq += 1
            found.setdefault(int(customer_id), []).append(Touchpoint(at, *item, seq=seq))
    for customer_id, arrived_at, _id, code_id, kind, name in arrivals:
        seq += 1
        channel = KOL if kind == KOL else CHANNEL_CODE
        found.setdefault(int(customer_id), []).append(
            Touchpoint(_utc(arrived_at), channel, f"channel_code:{code_id}", name, seq=seq)
        )
    for touchpoints in found.values():
        touchpoints.sort(key=lambda t: (t.at, t.seq))
    return found, book


def scope_orders(scope: Scope) -> Any:
    where = [Order.shop_id == scope.shop_id, Order.paid_at.is_not(None), Order.paid_fen > 0]
    if scope.live_session_id is not None:
        where.append(Order.live_session_id == scope.live_session_id)
    else:
        where += [Order.paid_at >= scope.starts, Order.paid_at < scope.ends]
    return and_(*where)


def _order_touchpoints(row: Any, book: CodeBook) -> list[tuple[str, str, str]]:
    promo = (row.attribution or {}).get("promo_code") or ""
    named = [
        book.source(str(promo)) if promo else None,
        book.share(row.share_code or ""),
        book.source(row.source_code or ""),
        book.session(int(row.live_session_id)) if row.live_session_id is not None else None,
    ]
    return [item for item in named if item is not None]


async def order_journeys(
    session: AsyncSession, *, scope: Scope, lookback_s: int, order_id: int | None = None
) -> list[OrderJourney]:
    """Every paid order of the scope (or the one order `order_id` of the shop) with its
    journey, in order of placing."""
    where = (
        and_(
            Order.shop_id == scope.shop_id,
            Order.id == order_id,
            Order.paid_at.is_not(None),
            Order.paid_fen > 0,
        )
        if order_id is not None
        else scope_orders(scope)
    )
    orders = (
        await session.execute(
            select(
                Order.id, Order.number, Order.customer_id, Order.paid_fen, Order.created_at,
                Order.source_code, Order.share_code, Order.attribution, Order.live_session_id,
            )
            .where(where)
            .order_by(Order.created_at, Order.id)
        )
    ).all()  # fmt: skip
    if not orders:
        return []
    placed = [_utc(row.created_at) for row in orders]
    lookback = dt.timedelta(seconds=lookback_s)
    codes: set[str] = set()
    for row in orders:
        codes |= {row.source_code or "", row.share_code or ""}
        codes.add(str((row.attribution or {}).get("promo_code") or ""))
    buyers = select(Order.customer_id).where(where, Order.customer_id.is_not(None)).distinct()
    touchpoints, book = await collect_touchpoints(
        session,
        shop_id=scope.shop_id,
        customers=buyers,
        since=min(placed) - lookback,
        until=max(placed),
        extra_codes=codes,
        extra_sessions={int(r.live_session_id) for r in orders if r.live_session_id is not None},
    )
    journeys = []
    for row, at in zip(orders, placed, strict=True):
        own = [t for t in touchpoints.get(row.customer_id or 0, []) if at - lookback <= t.at <= at]
        keys = {t.key for t in own}
        for channel, key, label in _order_touchpoints(row, book):
            if key not in keys:
                keys.add(key)
                own.append(Touchpoint(at, channel, key, label, seq=1 << 40))
        if not own:
            own = [Touchpoint(at, DIRECT, DIRECT, DIRECT)]
        journeys.append(
            OrderJourney(
                order_id=int(row.id), number=str(row.number), customer_id=row.customer_id,
                value_fen=int(row.paid_fen), placed_at=at, touchpoints=own,
            )
        )  # fmt: skip
    return journeys


async def non_converting_paths(
    session: AsyncSession, *, scope: Scope, lookback_s: int
) -> list[list[str]]:
    """Channel paths of the customers who were touched in the scope (entered the session, or
    the shop's rooms / a channel code in the range) and paid no order of it: what the
    data-driven model weighs the converting journeys against."""
    shop_id = scope.shop_id
    if scope.live_session_id is not None:
        touched_where = [Event.live_session_id == scope.live_session_id]
    else:
        touched_where = [Event.occurred_at >= scope.starts, Event.occurred_at < scope.ends]
    entered = select(Event.customer_id).where(
        Event.shop_id == shop_id,
        Event.type == ENTER_EVENT,
        Event.customer_id.is_not(None),
        *touched_where,
    )
    arrived = select(ChannelCodeArrival.customer_id).where(
        ChannelCodeArrival.shop_id == shop_id,
        ChannelCodeArrival.arrived_at >= scope.starts,
        ChannelCodeArrival.arrived_at < scope.ends,
    )
    buyers = select(Order.customer_id).where(scope_orders(scope), Order.customer_id.is_not(None))
    touched = entered.union(arrived).subquery("touched")
    customers = select(touched.c[0]).where(touched.c[0].not_in(buyers))
    found, _book = await collect_touchpoints(
        session,
        shop_id=shop_id,
        customers=customers,
        since=scope.starts - dt.timedelta(seconds=lookback_s),
        until=scope.ends,
    )
    return [[t.channel for t in touchpoints] for _customer, touchpoints in sorted(found.items())]
