"""The room's write-behind buffer: events, live_viewers rows and session figures.

The socket loop only appends to memory (`add_event`, `viewer_*`, `session_figures`); a
background task writes everything in batches every `FLUSH_EVERY_S` or as soon as
`FLUSH_AT_EVENTS` events wait, and once more at shutdown. A failed write keeps the batch for
the next try (up to `MAX_KEPT_EVENTS`; beyond that the oldest are dropped and logged), so a
database hiccup never reaches a viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Database, utcnow
from liveloop.events.service import MAX_BATCH, ingest_events
from liveloop.live.audience import resolve_share
from liveloop.live.models import LiveSession, LiveViewer
from liveloop.live.viewers import ViewerClaims

log = structlog.get_logger(__name__)

FLUSH_EVERY_S = 1.0
FLUSH_AT_EVENTS = 500
MAX_KEPT_EVENTS = 200_000


@dataclass
class ViewerDelta:
    """What happened to one live_viewers row since the last flush."""

    shop_id: int
    live_session_id: int
    viewer_key: str
    customer_id: int | None
    device_id: str
    source_code: str
    share_code: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    entries: int = 0
    watch_seconds: int = 0
    comments: int = 0
    likes: int = 0


@dataclass
class SessionFigures:
    shop_id: int
    peak: int
    total: int
    like_total: int


class EventBuffer:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._events: dict[int, list[dict[str, Any]]] = defaultdict(list)  # shop -> items
        self._count = 0
        self._viewers: dict[tuple[int, str], ViewerDelta] = {}
        self._figures: dict[int, SessionFigures] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.flushed_events = 0  # for tests and the bench

    # -- called from the socket loop: memory only -------------------------------------------

    def add_event(
        self,
        claims: ViewerClaims,
        live_session_id: int,
        event_type: str,
        properties: dict[str, Any],
        *,
        product_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        item: dict[str, Any] = {
            "type": event_type,
            "live_session_id": live_session_id,
            "properties": properties,
            "occurred_at": at or utcnow(),
        }
        if claims.customer_id is not None:
            item["customer_id"] = claims.customer_id
        else:
            item["anonymous_id"] = claims.viewer_key[:64]
        if product_id is not None:
            item["product_id"] = product_id
        self._events[claims.shop_id].append(item)
        self._count += 1
        if self._count >= FLUSH_AT_EVENTS:
            self._wake.set()

    def _viewer(self, claims: ViewerClaims, live_session_id: int) -> ViewerDelta:
        key = (live_session_id, claims.viewer_key)
        delta = self._viewers.get(key)
        if delta is None:
            now = utcnow()
            delta = ViewerDelta(
                shop_id=claims.shop_id,
                live_session_id=live_session_id,
                viewer_key=claims.viewer_key,
                customer_id=claims.customer_id,
                device_id=claims.device_id[:64],
                source_code=claims.source_code[:32],
                share_code=claims.share_code[:32],
                first_seen=now,
                last_seen=now,
            )
            self._viewers[key] = delta
        return delta

    def viewer_entered(self, claims: ViewerClaims, live_session_id: int) -> None:
        self._viewer(claims, live_session_id).entries += 1

    def viewer_left(self, claims: ViewerClaims, live_session_id: int, watch_seconds: int) -> None:
        delta = self._viewer(claims, live_session_id)
        delta.watch_seconds += watch_seconds
        delta.last_seen = utcnow()

    def viewer_seen(
        self, claims: ViewerClaims, live_session_id: int, *, comments: int = 0, likes: int = 0
    ) -> None:
        delta = self._viewer(claims, live_session_id)
        delta.comments += comments
        delta.likes += likes
        delta.last_seen = utcnow()

    def session_figures(
        self, shop_id: int, live_session_id: int, *, peak: int, total: int, like_total: int
    ) -> None:
        self._figures[live_session_id] = SessionFigures(shop_id, peak, total, like_total)

    @property
    def pending(self) -> int:
        return self._count

    # -- background --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-event-buffer")

    async def stop(self) -> None:
        """Stop the background task and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY_S)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # kept for the next round by flush itself
                log.error("live_buffer_flush_failed", error=repr(exc))

    async def flush(self) -> None:
        async with self._lock:
            events, self._events, self._count = self._events, defaultdict(list), 0
            viewers, self._viewers = self._viewers, {}
            figures, self._figures = self._figures, {}
            try:
                await self._write_events(events)
            except Exception:
                self._keep_events(events)
                self._keep_viewers(viewers)
                self._figures = {**figures, **self._figures}
                raise
            try:
                await self._write_viewers(viewers, figures)
            except Exception:
                self._keep_viewers(viewers)
                self._figures = {**figures, **self._figures}
                raise

    def _keep_events(self, events: dict[int, list[dict[str, Any]]]) -> None:
        for shop_id, items in events.items():
            self._events[shop_id][:0] = items
            self._count += len(items)
        if self._count > MAX_KEPT_EVENTS:
            dropped = self._count - MAX_KEPT_EVENTS
            for items in self._events.values():
                cut = min(dropped, len(items))
                del items[:cut]
                dropped -= cut
            log.error("live_buffer_dropped_events", dropped=self._count - MAX_KEPT_EVENTS)
            self._count = MAX_KEPT_EVENTS

    def _keep_viewers(self, viewers: dict[tuple[int, str], ViewerDelta]) -> None:
        for key, old in viewers.items():
            new = self._viewers.get(key)
            if new is None:
                self._viewers[key] = old
                continue
            new.entries += old.entries
            new.watch_seconds += old.watch_seconds
            new.comments += old.comments
            new.likes += old.likes
            new.first_seen = min(new.first_seen, old.first_seen)

    async def _write_events(self, events: dict[int, list[dict[str, Any]]]) -> None:
        for shop_id, items in events.items():
            for start in range(0, len(items), MAX_BATCH):
                chunk = items[start : start + MAX_BATCH]
                async with self._database.unit_of_work() as session:
                    result = await ingest_events(session=session, shop_id=shop_id, items=chunk)
                if result.errors:
                    log.warning("live_events_refused", shop_id=shop_id, errors=result.errors[:3])
                self.flushed_events += result.accepted + result.duplicates

    async def _write_viewers(
        self,
        viewers: dict[tuple[int, str], ViewerDelta],
        figures: dict[int, SessionFigures],
    ) -> None:
        if not viewers and not figures:
            return
        async with self._database.unit_of_work() as session:
            referrers: dict[str, int | None] = {}
            for code in {d.share_code for d in viewers.values() if d.share_code}:
                share = await resolve_share(session=session, code=code)
                referrers[code] = share.sharer_customer_id if share is not None else None
            # One fixed order (session, viewer key) so concurrent flushes never deadlock.
            for key in sorted(viewers):
                await _upsert_viewer(session, viewers[key], referrers.get(viewers[key].share_code))
            for live_session_id in sorted(figures):
                f = figures[live_session_id]
                await session.execute(
                    update(LiveSession)
                    .where(LiveSession.id == live_session_id, LiveSession.shop_id == f.shop_id)
                    .values(
                        peak_viewers=case(
                            (LiveSession.peak_viewers < f.peak, f.peak),
                            else_=LiveSession.peak_viewers,
                        ),
                        total_viewers=case(
                            (LiveSession.total_viewers < f.total, f.total),
                            else_=LiveSession.total_viewers,
                        ),
                        like_total=case(
                            (LiveSession.like_total < f.like_total, f.like_total),
                            else_=LiveSession.like_total,
                        ),
                    )
                )


async def _upsert_viewer(session: AsyncSession, d: ViewerDelta, referrer_id: int | None) -> None:
    """INSERT … ON CONFLICT (session, viewer_key) DO UPDATE: atomic across processes."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = LiveViewer.__table__
    statement = insert(table).values(
        shop_id=d.shop_id,
        live_session_id=d.live_session_id,
        viewer_key=d.viewer_key,
        customer_id=d.customer_id,
        device_id=d.device_id,
        source_code=d.source_code,
        referrer_customer_id=referrer_id,
        first_entered_at=d.first_seen,
        last_seen_at=d.last_seen,
        watch_seconds=d.watch_seconds,
        entries=d.entries,
        comments=d.comments,
        likes=d.likes,
    )
    columns = table.c
    statement = statement.on_conflict_do_update(
        index_elements=[columns.live_session_id, columns.viewer_key],
        set_={
            "last_seen_at": statement.excluded.last_seen_at,
            "watch_seconds": columns.watch_seconds + d.watch_seconds,
            "entries": columns.entries + d.entries,
            "comments": columns.comments + d.comments,
            "likes": columns.likes + d.likes,
        },
    )
    await session.execute(statement)
