"""The realtime dashboard's rollups: a live session's room events folded as they are stored, so
a refresh reads a few thousand small rows instead of every event of the session.

`fold_ingested` is called by `events.service.ingest_events` in the ingesting transaction, for
the room events it stored (entries, leaves, comments, likes, product clicks and add-to-carts
of a live session of the shop). Per session it holds the session's `LiveRollupState` row locked
while it folds, so folds and rebuilds of one session run one after another and every event is
folded exactly once: a fold that waits on a rebuild sees it finished and folds only its own
events, which the rebuild could not see (they were not committed).

Folding is exact, not an estimate: each figure is what `analytics.realtime.service` computes
from the raw events (`build_snapshot(from_events=True)`), and the tests compare the two. The
one thing a fold cannot know is the future: a viewer's `returning` flag is decided when they
are first seen (did they enter an earlier session before this one started?), so a session
whose start moves (it goes on air) is rebuilt, and so is one whose rollups were never built
(sessions from before the rollups, events written around `ingest_events`). `rebuild` reads
every room event of the session again. The dashboard's next read runs it when the session is
small (`ready_state`: up to INLINE_REBUILD_EVENTS room events, about a second); a bigger one is
rebuilt by a background job (`tasks.rebuild_rollups`, 79 s for 2,000,000 events) while the
dashboard and the post-live report read the raw events, exact but slower (the dashboard says so). The job holds the state row
locked while it runs, so the session's folds wait for it (and then fold only their own events).

Stays follow `analytics.viewing`: a viewer's closed visits (`live_leave` with watch_seconds)
and, while they have more entries than leaves, one open visit from their latest entry, merged
into islands. An island adds +1 to `LiveRollupSecond` at its start and -1 at its end (an open
one has no end yet); reading the seconds in order, cut to the window, gives the peak, the
viewers still in at the end, the time watched and the per-minute curve.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.consumption import PRODUCT_CLICK_EVENT
from liveloop.analytics.interaction import LIKE_EVENT
from liveloop.analytics.realtime.models import (
    LiveRollupComments,
    LiveRollupCount,
    LiveRollupSecond,
    LiveRollupSource,
    LiveRollupSourceViewer,
    LiveRollupState,
    LiveRollupViewer,
)
from liveloop.analytics.viewing import DIRECT_SOURCE, SHARE_SOURCE, ViewingFigures, curve_of
from liveloop.core.database import utcnow
from liveloop.events.models import Event
from liveloop.live.conditions import COMMENT_EVENT, ENTER_EVENT, LEAVE_EVENT
from liveloop.live.models import LiveEntryLink, LiveSession

CART_EVENT = "add_to_cart"
ROOM_TYPES = frozenset(
    (ENTER_EVENT, LEAVE_EVENT, COMMENT_EVENT, LIKE_EVENT, PRODUCT_CLICK_EVENT, CART_EVENT)
)
BROADCAST_SOURCE = "broadcast"
REMINDER_SOURCE = "reminder"
# Source-code prefixes of the shop's own messages (outreach.broadcasts, outreach.consent).
MESSAGE_PREFIXES = ((BROADCAST_SOURCE, "bc-"), (REMINDER_SOURCE, "rm-"))
KIND, LINK = "kind", "link"
REBUILD_CHUNK = 20_000
INLINE_REBUILD_EVENTS = 10_000  # a rebuild this small runs inside the dashboard's read
REQUEUE_AFTER = dt.timedelta(minutes=15)  # a queued rebuild not done by then was lost

Island = tuple[int, int | None]  # (start, end) in epoch seconds; end None: still open


@dataclass(frozen=True)
class RoomEvent:
    type: str
    viewer: str
    product_id: int
    second: int
    properties: dict[str, Any]


def viewer_of(customer_id: int | None, anonymous_id: str | None) -> str:
    """`analytics.expressions.viewer_key` in Python."""
    return f"c:{customer_id}" if customer_id is not None else (anonymous_id or "")


def _properties(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _int(properties: dict[str, Any], name: str) -> int:
    value = properties.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(properties: dict[str, Any], name: str) -> str:
    value = properties.get(name)
    return value if isinstance(value, str) else ""


def room_event(
    type_: str,
    customer_id: int | None,
    anonymous_id: str | None,
    product_id: int | None,
    properties: Any,
    occurred_at: dt.datetime,
) -> RoomEvent:
    return RoomEvent(
        type_,
        viewer_of(customer_id, anonymous_id),
        product_id or 0,
        math.floor(occurred_at.timestamp()),
        _properties(properties),
    )


def merge(visits: Iterable[Island]) -> list[Island]:
    """Islands of the visits: one starting after every earlier one ended begins a new island;
    one touching or overlapping the island so far joins it."""
    islands: list[list[Any]] = []
    for start, end in sorted(visits, key=lambda v: (v[0], math.inf if v[1] is None else v[1])):
        if islands and (islands[-1][1] is None or start <= islands[-1][1]):
            last = islands[-1]
            if last[1] is not None and (end is None or end > last[1]):
                last[1] = end
        else:
            islands.append([start, end])
    return [(start, end) for start, end in islands]


@dataclass
class ViewerState:
    entries: int = 0
    leaves: int = 0
    last_entry: int | None = None
    visits: list[Island] = field(default_factory=list)  # closed visits, merged
    returning: bool = False
    new: bool = True

    def islands(self) -> list[Island]:
        if self.entries > self.leaves and self.last_entry is not None:
            return merge([*self.visits, (self.last_entry, None)])
        return list(self.visits)


@dataclass
class Memo:
    """What a rebuild has folded so far, kept in memory: it starts from empty rollups, so a
    viewer (or a viewer's source) it has not seen yet is new, and nothing is looked up."""

    viewers: dict[str, ViewerState] = field(default_factory=dict)
    source_viewers: set[tuple[str, str, str]] = field(default_factory=set)


def _points(islands: Sequence[Island], sign: int, into: Counter[int]) -> None:
    for start, end in islands:
        into[start] += sign
        if end is not None:
            into[end] -= sign


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


async def _upsert(
    session: AsyncSession,
    model: Any,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    *,
    add: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """INSERT the rows; on a key already there add `add` columns to it and overwrite `replace`
    ones. `rows` holds each key once."""
    if not rows:
        return
    table = model.__table__
    statement = _insert(session, table)
    changes = {name: table.c[name] + statement.excluded[name] for name in add}
    changes.update({name: statement.excluded[name] for name in replace})
    if changes:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    # One statement, many parameter sets: compiled once and cached, sent as a batch.
    await session.execute(statement, rows)


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True)
class SessionFacts:
    shop_id: int
    live_session_id: int
    starts: dt.datetime

    @property
    def starts_epoch(self) -> int:
        return math.floor(self.starts.timestamp())


def window_start(started_at: dt.datetime | None, planned_start: dt.datetime) -> dt.datetime:
    """`analytics.service.report_window`'s start: on air, else the planned start."""
    return started_at if started_at is not None else planned_start


async def _returning(
    session: AsyncSession, facts: SessionFacts, viewers: Sequence[str]
) -> set[str]:
    """Those of the viewers who entered another session of the shop before this one started."""
    earlier = and_(
        Event.shop_id == facts.shop_id,
        Event.type == ENTER_EVENT,
        Event.occurred_at < facts.starts,
        Event.live_session_id.is_not(None),
        Event.live_session_id != facts.live_session_id,
    )
    found: set[str] = set()
    customers = [int(v[2:]) for v in viewers if v.startswith("c:") and v[2:].isdigit()]
    for part in _chunks(customers):
        rows = await session.execute(
            select(Event.customer_id).where(earlier, Event.customer_id.in_(part)).distinct()
        )
        found.update(f"c:{customer_id}" for (customer_id,) in rows)
    for part in _chunks(list(viewers)):
        rows = await session.execute(
            select(Event.anonymous_id)
            .where(earlier, Event.customer_id.is_(None), Event.anonymous_id.in_(part))
            .distinct()
        )
        found.update(str(anonymous_id) for (anonymous_id,) in rows)
    return found


async def _link_ids(
    session: AsyncSession, facts: SessionFacts, codes: set[str]
) -> dict[str, tuple[int, str]]:
    """The session's entry links by code: (link id, channel)."""
    if not codes:
        return {}
    rows = await session.execute(
        select(LiveEntryLink.code, LiveEntryLink.id, LiveEntryLink.channel).where(
            LiveEntryLink.shop_id == facts.shop_id,
            LiveEntryLink.live_session_id == facts.live_session_id,
            LiveEntryLink.code.in_(sorted(codes)),
        )
    )
    return {str(code): (int(link_id), str(channel)) for code, link_id, channel in rows}


def _source_keys(
    properties: dict[str, Any], links: dict[str, tuple[int, str]]
) -> list[tuple[str, str]]:
    """The (dimension, key) rows an entry counts in: its source kind, and its entry link when
    it came by one and not by a share (`service._sources`)."""
    share, code = _text(properties, "share_code"), _text(properties, "source_code")
    link = links.get(code)
    if share != "":
        kind = SHARE_SOURCE
    else:
        kind = next((k for k, prefix in MESSAGE_PREFIXES if code.startswith(prefix)), "")
        kind = kind or (link[1] if link is not None else DIRECT_SOURCE)
    keys = [(KIND, kind)]
    if share == "" and link is not None:
        keys.append((LINK, str(link[0])))
    return keys


async def _fold(
    session: AsyncSession,
    facts: SessionFacts,
    state: LiveRollupState,
    events: list[RoomEvent],
    memo: Memo | None = None,
) -> None:
    """Add the events to the session's rollups (the caller holds `state` locked)."""
    sid, shop_id = facts.live_session_id, facts.shop_id
    base = {"shop_id": shop_id, "live_session_id": sid}
    counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    comments: Counter[int] = Counter()
    by_viewer: dict[str, list[RoomEvent]] = defaultdict(list)
    entries: list[RoomEvent] = []
    for event in events:
        figures = counts[(event.type, event.product_id)]
        figures[0] += 1
        if event.type == COMMENT_EVENT and event.properties.get("blocked") is not True:
            figures[1] += 1
            comments[event.second] += 1
        elif event.type == LIKE_EVENT:
            figures[2] += _int(event.properties, "count")
        elif event.type in (ENTER_EVENT, LEAVE_EVENT):
            by_viewer[event.viewer].append(event)
            if event.type == ENTER_EVENT:
                entries.append(event)
    await _upsert(
        session,
        LiveRollupCount,
        [
            {**base, "kind": k, "product_id": p, "events": n, "shown": shown, "likes": likes}
            for (k, p), (n, shown, likes) in counts.items()
        ],
        ("live_session_id", "kind", "product_id"),
        add=("events", "shown", "likes"),
    )
    await _upsert(
        session,
        LiveRollupComments,
        [{**base, "second": second, "shown": n} for second, n in comments.items()],
        ("live_session_id", "second"),
        add=("shown",),
    )
    if by_viewer:
        await _fold_stays(session, facts, state, by_viewer, memo)
    if entries:
        await _fold_sources(session, facts, entries, memo)


async def _fold_stays(
    session: AsyncSession,
    facts: SessionFacts,
    state: LiveRollupState,
    by_viewer: dict[str, list[RoomEvent]],
    memo: Memo | None = None,
) -> None:
    sid = facts.live_session_id
    viewers = sorted(by_viewer)
    states: dict[str, ViewerState] = {}
    if memo is not None:
        states = {viewer: memo.viewers[viewer] for viewer in viewers if viewer in memo.viewers}
    for part in _chunks(viewers) if memo is None else ():
        rows = await session.execute(
            select(
                LiveRollupViewer.viewer, LiveRollupViewer.entries, LiveRollupViewer.leaves,
                LiveRollupViewer.last_entry, LiveRollupViewer.visits, LiveRollupViewer.is_returning,
            ).where(LiveRollupViewer.live_session_id == sid, LiveRollupViewer.viewer.in_(part))
        )  # fmt: skip
        for viewer, n_in, n_out, last, visits, returning in rows:
            closed = [(int(s), int(e)) for s, e in visits]
            states[viewer] = ViewerState(n_in, n_out, last, closed, bool(returning), new=False)
    fresh = [v for v in viewers if v not in states]
    returning = await _returning(session, facts, fresh) if fresh else set()
    deltas: Counter[int] = Counter()
    written = []
    for viewer in viewers:
        old = states.get(viewer) or ViewerState(returning=viewer in returning)
        before = [] if old.new else old.islands()
        closed = list(old.visits)
        new = ViewerState(old.entries, old.leaves, old.last_entry, closed, old.returning, old.new)
        for event in by_viewer[viewer]:
            if event.type == ENTER_EVENT:
                new.entries += 1
                new.last_entry = (
                    event.second if new.last_entry is None else max(new.last_entry, event.second)
                )
            else:
                new.leaves += 1
                start = event.second - _int(event.properties, "watch_seconds")
                if event.second > start:
                    closed.append((start, event.second))
        new.visits = [(s, e) for s, e in merge(closed) if e is not None]
        _points(before, -1, deltas)
        _points(new.islands(), 1, deltas)
        if memo is not None:
            memo.viewers[viewer] = replace(new, new=False)
        written.append(
            {"shop_id": facts.shop_id, "live_session_id": sid, "viewer": viewer,
             "entries": new.entries, "leaves": new.leaves, "last_entry": new.last_entry,
             "visits": [list(v) for v in new.visits], "is_returning": new.returning}
        )  # fmt: skip
    await _upsert(
        session,
        LiveRollupViewer,
        written,
        ("live_session_id", "viewer"),
        replace=("entries", "leaves", "last_entry", "visits"),
    )
    await _upsert(
        session,
        LiveRollupSecond,
        [
            {"shop_id": facts.shop_id, "live_session_id": sid, "second": t, "delta": d}
            for t, d in sorted(deltas.items())
            if d
        ],
        ("live_session_id", "second"),
        add=("delta",),
    )
    state.viewers += len(fresh)
    state.returning_viewers += len(returning)


async def _fold_sources(
    session: AsyncSession, facts: SessionFacts, entries: list[RoomEvent], memo: Memo | None = None
) -> None:
    sid = facts.live_session_id
    base = {"shop_id": facts.shop_id, "live_session_id": sid}
    links = await _link_ids(session, facts, {_text(e.properties, "source_code") for e in entries})
    visits: Counter[tuple[str, str]] = Counter()
    pairs: set[tuple[str, str, str]] = set()
    for event in entries:
        for dimension, key in _source_keys(event.properties, links):
            visits[(dimension, key)] += 1
            pairs.add((dimension, key, event.viewer))
    seen: set[tuple[str, str, str]] = set()
    if memo is not None:
        seen = pairs & memo.source_viewers
    viewers = sorted({viewer for _, _, viewer in pairs})
    source = LiveRollupSourceViewer
    for part in _chunks(viewers) if memo is None else ():
        rows = await session.execute(
            select(source.dimension, source.key, source.viewer).where(
                source.live_session_id == sid, source.viewer.in_(part)
            )
        )
        seen.update((str(d), str(k), str(v)) for d, k, v in rows)
    added = sorted(pairs - seen)
    if memo is not None:
        memo.source_viewers.update(added)
    new_viewers = Counter((dimension, key) for dimension, key, _ in added)
    await _upsert(
        session,
        source,
        [{**base, "dimension": d, "key": k, "viewer": v} for d, k, v in added],
        ("live_session_id", "dimension", "key", "viewer"),
    )
    await _upsert(
        session,
        LiveRollupSource,
        [
            {**base, "dimension": d, "key": k, "visits": n, "viewers": new_viewers[(d, k)]}
            for (d, k), n in sorted(visits.items())
        ],
        ("live_session_id", "dimension", "key"),
        add=("visits", "viewers"),
    )


async def _session_facts(
    session: AsyncSession, shop_id: int, live_session_ids: Iterable[int]
) -> dict[int, SessionFacts]:
    rows = await session.execute(
        select(LiveSession.id, LiveSession.started_at, LiveSession.planned_start).where(
            LiveSession.shop_id == shop_id, LiveSession.id.in_(sorted(set(live_session_ids)))
        )
    )
    return {
        int(sid): SessionFacts(shop_id, int(sid), window_start(started, planned))
        for sid, started, planned in rows
    }


async def _locked_states(
    session: AsyncSession, shop_id: int, live_session_ids: Sequence[int]
) -> dict[int, LiveRollupState]:
    """The sessions' state rows, created (to be rebuilt) where missing, locked in id order."""
    await _upsert(
        session,
        LiveRollupState,
        [
            {"shop_id": shop_id, "live_session_id": sid, "needs_rebuild": True}
            for sid in sorted(live_session_ids)
        ],
        ("live_session_id",),
    )
    rows = await session.execute(
        select(LiveRollupState)
        .where(LiveRollupState.live_session_id.in_(sorted(live_session_ids)))
        .order_by(LiveRollupState.live_session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {state.live_session_id: state for state in rows.scalars()}


async def fold_ingested(
    session: AsyncSession, *, shop_id: int, rows: Sequence[Sequence[Any]], complete: bool = True
) -> None:
    """Fold stored event rows (`events.store.COLUMNS` order) into their sessions' rollups.
    `complete`: False when the caller cannot tell which of the rows were stored (a concurrent
    duplicate): those sessions are marked to be rebuilt instead."""
    by_session: dict[int, list[RoomEvent]] = defaultdict(list)
    for row in rows:
        type_, customer_id, anonymous_id, sid, product_id, properties, occurred_at = row[1:8]
        if sid is not None and type_ in ROOM_TYPES:
            by_session[int(sid)].append(
                room_event(type_, customer_id, anonymous_id, product_id, properties, occurred_at)
            )
    if not by_session:
        return
    facts = await _session_facts(session, shop_id, by_session)
    if not facts:
        return
    states = await _locked_states(session, shop_id, sorted(facts))
    for sid, state in states.items():
        if state.needs_rebuild:
            continue
        if not complete or state.starts_epoch != facts[sid].starts_epoch:
            state.needs_rebuild = True
        else:
            await _fold(session, facts[sid], state, by_session[sid])
        state.updated_at = utcnow()
    await session.flush()


_ROLLUP_MODELS = (
    LiveRollupViewer,
    LiveRollupSecond,
    LiveRollupComments,
    LiveRollupCount,
    LiveRollupSource,
    LiveRollupSourceViewer,
)


async def rebuild(
    session: AsyncSession, *, shop_id: int, live_session_id: int, force: bool = True
) -> None:
    """Throw the session's rollups away and fold every room event of it again; unless
    `force`, only when they still need it once the state is locked (two dashboards opening
    at once wait for one rebuild, not one each)."""
    facts = (await _session_facts(session, shop_id, [live_session_id]))[live_session_id]
    state = (await _locked_states(session, shop_id, [live_session_id]))[live_session_id]
    if not force and not state.needs_rebuild and state.starts_epoch == facts.starts_epoch:
        return
    for model in _ROLLUP_MODELS:
        await session.execute(delete(model).where(model.live_session_id == live_session_id))
    state.viewers = state.returning_viewers = 0
    columns = (
        Event.type, Event.customer_id, Event.anonymous_id, Event.product_id, Event.properties,
        Event.occurred_at,
    )  # fmt: skip
    where = and_(
        Event.shop_id == shop_id,
        Event.live_session_id == live_session_id,
        Event.type.in_(sorted(ROOM_TYPES)),
    )
    after: tuple[dt.datetime, int] | None = None
    memo = Memo()  # one small state per viewer, not their events
    while True:  # in pages along the (shop, session, time) index
        statement = select(*columns, Event.id).where(where)
        if after is not None:
            # The plain bound lets the index start at the page (a row comparison alone is
            # not used as an index bound, and every page would read from the beginning).
            statement = statement.where(
                Event.occurred_at >= after[0],
                tuple_(Event.occurred_at, Event.id) > tuple_(*after),
            )
        statement = statement.order_by(Event.occurred_at, Event.id).limit(REBUILD_CHUNK)
        rows = (await session.execute(statement)).all()
        if not rows:
            break
        await _fold(session, facts, state, [room_event(*row[:6]) for row in rows], memo)
        after = (rows[-1][5], int(rows[-1][6]))
        if len(rows) < REBUILD_CHUNK:
            break
    state.needs_rebuild = False
    state.starts_epoch = facts.starts_epoch
    state.rebuilt_at = state.updated_at = utcnow()
    await session.flush()


async def state_of(session: AsyncSession, live_session_id: int) -> LiveRollupState | None:
    return await session.get(LiveRollupState, live_session_id, populate_existing=True)


def _trusted(state: LiveRollupState | None, live_session: LiveSession) -> bool:
    starts = window_start(live_session.started_at, live_session.planned_start)
    return (
        state is not None
        and not state.needs_rebuild
        and state.starts_epoch == math.floor(starts.timestamp())
    )


async def _room_events_over(session: AsyncSession, live_session: LiveSession, limit: int) -> bool:
    """Whether the session has more than `limit` room events (counting no further)."""
    some = (
        select(Event.id)
        .where(
            Event.shop_id == live_session.shop_id,
            Event.live_session_id == live_session.id,
            Event.type.in_(sorted(ROOM_TYPES)),
        )
        .limit(limit + 1)
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(some)) or 0) > limit


def rebuild_due(state: LiveRollupState, now: dt.datetime) -> bool:
    """No rebuild is queued for the session: never asked, the last one is done, or it was lost."""
    queued = state.rebuild_queued_at
    return (
        queued is None
        or (state.rebuilt_at is not None and queued <= state.rebuilt_at)
        or queued < now - REQUEUE_AFTER
    )


async def claim_rebuild(session: AsyncSession, live_session: LiveSession) -> bool:
    """Mark the session's rebuild as queued, unless one already is; True: the caller queues it.
    Two dashboards asking at once: one of them claims it."""
    now = utcnow()
    state = await state_of(session, live_session.id)
    if state is None:
        await _upsert(
            session,
            LiveRollupState,
            [{"shop_id": live_session.shop_id, "live_session_id": live_session.id,
              "needs_rebuild": True}],
            ("live_session_id",),
        )  # fmt: skip
        state = await state_of(session, live_session.id)
        assert state is not None
    if not rebuild_due(state, now):
        return False
    stamp = LiveRollupState.rebuild_queued_at
    seen = state.rebuild_queued_at
    claimed = await session.execute(
        update(LiveRollupState)
        .where(
            LiveRollupState.live_session_id == live_session.id,
            stamp.is_(None) if seen is None else stamp == seen,
        )
        .values(rebuild_queued_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


async def ready_state(session: AsyncSession, live_session: LiveSession) -> LiveRollupState | None:
    """The session's rollup state if its rollups can be read now, rebuilding them first when
    they cannot be trusted and the session is small; None when they are rebuilt in the
    background (queued here, once, after the caller's commit), and the caller reads the events."""
    state = await state_of(session, live_session.id)
    if _trusted(state, live_session):
        return state
    if await _room_events_over(session, live_session, INLINE_REBUILD_EVENTS):
        from liveloop.analytics.realtime import tasks  # tasks imports this module

        await tasks.rebuild_in_background(session, live_session)
        return None
    await rebuild(
        session, shop_id=live_session.shop_id, live_session_id=live_session.id, force=False
    )
    return await state_of(session, live_session.id)


async def mark_shop_for_rebuild(session: AsyncSession, *, shop_id: int) -> None:
    """After stored events of the shop changed behind the folds (erased, moved in time)."""
    await session.execute(
        update(LiveRollupState)
        .where(LiveRollupState.shop_id == shop_id, LiveRollupState.needs_rebuild.is_(False))
        .values(needs_rebuild=True)
    )


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stays:
    """What the viewers' stays in the room (merged visits, cut to the window) add up to."""

    open_at_end: int  # stays cut at the end of the window: viewers still in the room
    peak: int  # the most viewers in the room at once
    seconds: int  # time in the room, summed over viewers
    curve: list[int]  # viewers in the room at each whole minute (the report's retention)
    peak_at: int | None = None  # the first second of the peak (read from the rollups only)


async def stays(session: AsyncSession, live_session_id: int, start: int, end: int) -> Stays:
    """`service._stays` from the per-second deltas, cut to the window [start, end]."""
    if end <= start:
        return Stays(0, 0, 0, [])
    minutes = -(-(end - start) // 60)
    rows = await session.execute(
        select(LiveRollupSecond.second, LiveRollupSecond.delta)
        .where(LiveRollupSecond.live_session_id == live_session_id, LiveRollupSecond.second < end)
        .order_by(LiveRollupSecond.second)
    )
    deltas = [0] * (minutes + 1)
    running = peak = seconds = 0
    previous, peak_at = start, None
    for t, d in rows:
        if t > start:  # `running` viewers were in from `previous` until t
            if running > peak:
                peak, peak_at = running, previous
            seconds += running * (t - previous)
            previous = t
            deltas[min((t - start + 59) // 60, minutes)] += d
        else:  # everything before the window is cut to its start
            deltas[0] += d
        running += d
    if running > peak:
        peak, peak_at = running, previous
    seconds += running * (end - previous)
    return Stays(running, peak, seconds, curve_of(deltas, minutes), peak_at)


async def viewing_figures(
    session: AsyncSession, live_session: LiveSession, start: int, end: int
) -> ViewingFigures | None:
    """`analytics.viewing.viewing_figures` (the post-live report's) from the rollups, for
    the window [start, end]; None when they cannot be read now (rebuilt in the background)."""
    if await ready_state(session, live_session) is None:
        return None
    rows = await session.execute(
        select(
            LiveRollupViewer.viewer, LiveRollupViewer.entries, LiveRollupViewer.leaves,
            LiveRollupViewer.last_entry, LiveRollupViewer.visits,
        ).where(LiveRollupViewer.live_session_id == live_session.id)
    )  # fmt: skip
    uv = customers = pv = 0
    on_air: list[int] = []
    for viewer, entries, leaves, last_entry, visits in rows:
        uv += 1
        customers += str(viewer).startswith("c:")
        pv += int(entries)
        closed = [(int(s), int(e)) for s, e in visits]
        cut = [
            (max(s, start), end if e is None else min(e, end))
            for s, e in ViewerState(entries, leaves, last_entry, closed).islands()
        ]
        seconds = sum(e - s for s, e in merge(cut) if e is not None and e > s)
        if seconds > 0:
            on_air.append(seconds)
    found = await stays(session, live_session.id, start, end)
    return ViewingFigures(uv, customers, pv, sorted(on_air), found.peak, found.peak_at, found.curve)


async def counts(
    session: AsyncSession, live_session_id: int
) -> list[tuple[str, int, int, int, int]]:
    """(kind, product id or 0, events, comments shown, likes) of the session."""
    rows = await session.execute(
        select(
            LiveRollupCount.kind, LiveRollupCount.product_id, LiveRollupCount.events,
            LiveRollupCount.shown, LiveRollupCount.likes,
        ).where(LiveRollupCount.live_session_id == live_session_id)
    )  # fmt: skip
    return [(str(k), int(p), int(n), int(s), int(likes)) for k, p, n, s, likes in rows]


async def comments_per_minute(
    session: AsyncSession, live_session_id: int, start: int, end: int
) -> list[int]:
    minutes = -(-(end - start) // 60) if end > start else 0
    series = [0] * minutes
    if not minutes:
        return series
    offset = LiveRollupComments.second - start
    minute = (offset // 60).label("m")
    rows = await session.execute(
        select(minute, func.sum(LiveRollupComments.shown))
        .where(
            LiveRollupComments.live_session_id == live_session_id,
            LiveRollupComments.second >= start,
            LiveRollupComments.second < end,
        )
        .group_by(minute)
    )
    for m, n in rows:
        if 0 <= int(m) < minutes:
            series[int(m)] += int(n or 0)
    return series


async def comments_between(
    session: AsyncSession, live_session_id: int, after: int, upto: int
) -> int:
    """Comments shown at seconds in (after, upto]."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LiveRollupComments.shown), 0)).where(
            LiveRollupComments.live_session_id == live_session_id,
            LiveRollupComments.second > after,
            LiveRollupComments.second <= upto,
        )
    )
    return int(total or 0)


async def sources(session: AsyncSession, live_session_id: int) -> list[tuple[str, str, int, int]]:
    """(dimension, key, visits, viewers) of the session's entries."""
    rows = await session.execute(
        select(
            LiveRollupSource.dimension, LiveRollupSource.key, LiveRollupSource.visits,
            LiveRollupSource.viewers,
        ).where(LiveRollupSource.live_session_id == live_session_id)
    )  # fmt: skip
    return [(str(d), str(k), int(v), int(n)) for d, k, v, n in rows]
