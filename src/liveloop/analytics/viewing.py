"""The viewing section of a post-live report: viewers, visits, watch time, concurrency over
time and where viewers came from — all from the room's live_enter / live_leave events.

A visit is one socket connection: a `live_leave` event closes it and says how long it lasted
(`watch_seconds`), so it ran from `occurred_at - watch_seconds` to `occurred_at`. A viewer with
more entries than leaves still had one open at the end (the room stopped before it could say
so): that one runs from their latest entry to the end of the session. Visits are cut to the
on-air window [started_at, ended_at] and a viewer's overlapping visits (two tabs) are merged,
so a person is never counted twice at the same moment nor their time twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.expressions import epoch_floor, json_int, json_text, ratio, viewer_key
from liveloop.events.models import Event
from liveloop.live.conditions import ENTER_EVENT, LEAVE_EVENT
from liveloop.live.models import LiveEntryLink

SHARE_SOURCE = "share"
DIRECT_SOURCE = "direct"


@dataclass(frozen=True)
class Window:
    """The on-air window in epoch seconds; empty (start == end) for a session never started."""

    start: int
    end: int

    @property
    def minutes(self) -> int:
        """Points of the retention curve: one at each whole minute before the end."""
        return -(-(self.end - self.start) // 60) if self.end > self.start else 0


def session_events(shop_id: int, live_session_id: int, *types: str) -> Any:
    return and_(
        Event.shop_id == shop_id,
        Event.live_session_id == live_session_id,
        Event.type.in_(types),
    )


def _visits(shop_id: int, live_session_id: int, window: Window) -> Any:
    key = viewer_key()
    left = epoch_floor(Event.occurred_at)
    closed = select(
        key.label("viewer"),
        (left - json_int(Event.properties, "watch_seconds")).label("s"),
        left.label("e"),
    ).where(session_events(shop_id, live_session_id, LEAVE_EVENT))
    counts = (
        select(
            key.label("viewer"),
            func.sum(case((Event.type == ENTER_EVENT, 1), else_=0)).label("entries"),
            func.sum(case((Event.type == LEAVE_EVENT, 1), else_=0)).label("leaves"),
            func.max(case((Event.type == ENTER_EVENT, left), else_=None)).label("last_entry"),
        )
        .where(session_events(shop_id, live_session_id, ENTER_EVENT, LEAVE_EVENT))
        .group_by(key)
        .subquery()
    )
    still_open = select(
        counts.c.viewer, counts.c.last_entry.label("s"), literal(window.end).label("e")
    ).where(counts.c.entries > counts.c.leaves, counts.c.last_entry.is_not(None))
    return union_all(closed, still_open).subquery("visits")


def merged_visits(shop_id: int, live_session_id: int, window: Window) -> Any:
    """(viewer, s, e): each viewer's time in the room within the window, overlaps merged
    (gaps and islands: a visit starts a new island when it starts after every earlier one
    of the same viewer ended)."""
    visits = _visits(shop_id, live_session_id, window)
    clamped = (
        select(
            visits.c.viewer,
            case((visits.c.s < window.start, window.start), else_=visits.c.s).label("s"),
            case((visits.c.e > window.end, window.end), else_=visits.c.e).label("e"),
        )
        .select_from(visits)
        .subquery("clamped")
    )
    order = (clamped.c.s, clamped.c.e)
    ended_before = func.max(clamped.c.e).over(
        partition_by=clamped.c.viewer, order_by=order, rows=(None, -1)
    )
    flagged = (
        select(
            clamped.c.viewer,
            clamped.c.s,
            clamped.c.e,
            case((or_(ended_before.is_(None), clamped.c.s > ended_before), 1), else_=0).label(
                "fresh"
            ),
        )
        .where(clamped.c.e > clamped.c.s)
        .subquery("flagged")
    )
    numbered = select(
        flagged.c.viewer,
        flagged.c.s,
        flagged.c.e,
        func.sum(flagged.c.fresh)
        .over(partition_by=flagged.c.viewer, order_by=(flagged.c.s, flagged.c.e), rows=(None, 0))
        .label("island"),
    ).subquery("numbered")
    return (
        select(
            numbered.c.viewer,
            func.min(numbered.c.s).label("s"),
            func.max(numbered.c.e).label("e"),
        )
        .group_by(numbered.c.viewer, numbered.c.island)
        .subquery("merged")
    )


async def watch_seconds_on_air(
    session: AsyncSession, shop_id: int, live_session_id: int, window: Window
) -> list[int]:
    """Seconds on air of each viewer who was in the room while it was, ascending (a viewer
    seen only outside the window has no entry: 0 s). Read as rows, not joined back to every
    viewer in SQL: PostgreSQL plans that join over the window functions badly (seconds)."""
    merged = merged_visits(shop_id, live_session_id, window)
    rows = await session.execute(
        select(func.sum(merged.c.e - merged.c.s)).group_by(merged.c.viewer)
    )
    return sorted(int(seconds) for (seconds,) in rows)


async def _scalar(session: AsyncSession, statement: Any) -> int:
    return int((await session.execute(statement)).scalar_one_or_none() or 0)


def median_seconds(on_air: list[int], viewers: int) -> float:
    """Median over every viewer, those with no time on air counting 0 s."""
    if viewers == 0:
        return 0.0
    zeros = viewers - len(on_air)

    def at(index: int) -> int:
        return 0 if index < zeros else on_air[index - zeros]

    return (at((viewers - 1) // 2) + at(viewers // 2)) / 2


async def _curve(session: AsyncSession, merged: Any, window: Window) -> list[int]:
    """Viewers in the room at window.start + 60 m for m = 0 .. minutes-1: +1 from the first
    whole minute at or after a stay starts, -1 from the first at or after it ends."""
    minutes = window.minutes
    if minutes == 0:
        return []
    deltas = [0] * (minutes + 1)
    for column, sign in ((merged.c.s, 1), (merged.c.e, -1)):
        bucket = ((column - window.start + 59) // 60).label("m")
        rows = await session.execute(select(bucket, func.count()).group_by(bucket))
        for minute, number in rows:
            deltas[min(int(minute), minutes)] += sign * int(number)
    return curve_of(deltas, minutes)


def curve_of(deltas: Sequence[int], minutes: int) -> list[int]:
    """The per-minute curve from per-minute changes: the running total at minutes 0 .. minutes-1
    (`deltas[m]`: stays starting minus stays ending from the whole minute m on)."""
    return list(itertools.accumulate(deltas[:minutes]))


async def _peak(session: AsyncSession, merged: Any) -> tuple[int, int | None]:
    """The most viewers in the room at once and the first second it happened (epoch)."""
    points = union_all(
        select(merged.c.s.label("t"), literal(1).label("d")),
        select(merged.c.e.label("t"), literal(-1).label("d")),
    ).subquery("points")
    running = select(
        points.c.t,
        func.sum(points.c.d)
        .over(order_by=(points.c.t, points.c.d), rows=(None, 0))
        .label("online"),
    ).subquery("running")
    row = (
        await session.execute(
            select(running.c.online, running.c.t)
            .order_by(running.c.online.desc(), running.c.t)
            .limit(1)
        )
    ).first()
    if row is None or int(row[0]) <= 0:
        return 0, None
    return int(row[0]), int(row[1])


async def _sources(session: AsyncSession, shop_id: int, live_session_id: int) -> dict[str, Any]:
    """Entries by where they came through: a viewer's share link, an entry link, or neither."""
    share = json_text(Event.properties, "share_code")
    code = json_text(Event.properties, "source_code")
    link = LiveEntryLink
    on_link = and_(
        link.code == code, link.shop_id == shop_id, link.live_session_id == live_session_id
    )
    kind = case(
        (share != "", literal(SHARE_SOURCE)),
        (link.id.is_not(None), link.channel),
        else_=literal(DIRECT_SOURCE),
    ).label("kind")
    link_id = case((share != "", None), else_=link.id).label("link_id")
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
        select(link_id, link.channel, link.label, link.code, func.count(),
               func.count(func.distinct(viewer_key())))
        .select_from(Event)
        .outerjoin(link, on_link)
        .where(where, link_id.is_not(None))
        .group_by(link_id, link.channel, link.label, link.code)
        .order_by(func.count().desc(), link_id)
    )  # fmt: skip
    links = [
        {
            "link_id": int(row[0]),
            "channel": row[1],
            "label": row[2],
            "code": row[3],
            "visits": int(row[4]),
            "viewers": int(row[5]),
        }
        for row in by_link
    ]
    return {"channels": channels, "links": links}


@dataclass(frozen=True)
class ViewingFigures:
    """What the report's viewing section reads from the room's stays (the rest: sources)."""

    uv: int  # distinct viewers who entered or left
    customers: int  # of them, customers (the rest are guests)
    pv: int  # entries
    on_air: list[int]  # seconds on air of each viewer with any, ascending
    peak: int
    peak_at: int | None  # epoch second the peak was first reached
    retention: list[int]  # viewers in the room at each whole minute


async def viewing_figures(
    session: AsyncSession, shop_id: int, live_session_id: int, window: Window
) -> ViewingFigures:
    """From the raw events (analytics.realtime.rollups reads the same from its rollups)."""
    key = viewer_key()
    uv, customers = (
        await session.execute(
            select(func.count(func.distinct(key)), func.count(func.distinct(Event.customer_id)))
            .where(session_events(shop_id, live_session_id, ENTER_EVENT, LEAVE_EVENT))
        )
    ).one()  # fmt: skip
    on_air = await watch_seconds_on_air(session, shop_id, live_session_id, window)
    pv = await _scalar(
        session,
        select(func.count()).where(session_events(shop_id, live_session_id, ENTER_EVENT)),
    )
    merged = merged_visits(shop_id, live_session_id, window)
    peak, peak_at = await _peak(session, merged)
    retention = await _curve(session, merged, window)
    return ViewingFigures(int(uv), int(customers), pv, on_air, peak, peak_at, retention)


async def viewing_section(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    window: Window,
    figures: ViewingFigures | None = None,
) -> dict[str, Any]:
    """The report's viewing section; `figures`: already read (from the rollups), else the
    raw events are read."""
    if figures is None:
        figures = await viewing_figures(session, shop_id, live_session_id, window)
    uv, pv, total = figures.uv, figures.pv, sum(figures.on_air)
    peak_at = figures.peak_at
    return {
        "uv": uv,
        "customer_viewers": figures.customers,
        "guest_viewers": uv - figures.customers,
        "pv": pv,
        "visits_per_viewer": ratio(pv, uv, 2),
        "watch_seconds_total": total,
        "watch_seconds_avg": ratio(total, uv, 1),
        "watch_seconds_median": median_seconds(figures.on_air, uv),
        "peak_online": figures.peak,
        "peak_at_epoch": peak_at,
        "peak_minute": None if peak_at is None else (peak_at - window.start) // 60,
        "retention": figures.retention,
        "sources": await _sources(session, shop_id, live_session_id),
    }
