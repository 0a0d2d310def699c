"""Rollups of a live session's room events, for the realtime dashboard (analytics.realtime.rollups).

They hold what the dashboard would otherwise compute from the raw events on every refresh:
each viewer's stays in the room, viewers in the room per second, interaction counts and entry
sources. `events.service.ingest_events` folds every new room event into them in its own
transaction; a session's rollups are rebuilt from the events whenever they cannot be trusted
(`LiveRollupState.needs_rebuild`). Nothing here is the record: the events are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, ShopScoped, UTCDateTime, utcnow

SESSION_FK = "live_sessions.id"


def _session_id() -> Mapped[int]:
    return mapped_column(BigId, ForeignKey(SESSION_FK, ondelete="CASCADE"), primary_key=True)


class LiveRollupState(ShopScoped, Base):
    """One per session whose events were ever folded: whether its rollups can be trusted, the
    window start its `returning` flags were computed for, and the running viewer counts."""

    __tablename__ = "live_rollup_states"

    live_session_id: Mapped[int] = _session_id()
    needs_rebuild: Mapped[bool] = mapped_column(Boolean, default=True)
    starts_epoch: Mapped[int | None] = mapped_column(BigInteger, default=None)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    returning_viewers: Mapped[int] = mapped_column(Integer, default=0)
    rebuilt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When a dashboard last asked the job queue for a rebuild (a big session is rebuilt by
    # `tasks.rebuild_rollups`, not inside the read); due again once rebuilt, or if it was lost.
    rebuild_queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LiveRollupViewer(ShopScoped, Base):
    """A viewer's room events of the session, folded: entries and leaves, the latest entry and
    their closed visits merged (epoch seconds), as `analytics.viewing` reads them."""

    __tablename__ = "live_rollup_viewers"

    live_session_id: Mapped[int] = _session_id()
    viewer: Mapped[str] = mapped_column(String(80), primary_key=True)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    leaves: Mapped[int] = mapped_column(Integer, default=0)
    last_entry: Mapped[int | None] = mapped_column(BigInteger, default=None)
    visits: Mapped[list[Any]] = mapped_column(default=list)
    is_returning: Mapped[bool] = mapped_column(Boolean, default=False)


class LiveRollupSecond(ShopScoped, Base):
    """Viewers in the room change by `delta` at this second: +1 where a stay starts, -1 where
    it ends (a stay still open has no end here). Summed in order, they give who was in."""

    __tablename__ = "live_rollup_seconds"

    live_session_id: Mapped[int] = _session_id()
    second: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delta: Mapped[int] = mapped_column(Integer, default=0)


class LiveRollupComments(ShopScoped, Base):
    """Comments shown in the room at this second (the word filter's blocked ones left out)."""

    __tablename__ = "live_rollup_comments"

    live_session_id: Mapped[int] = _session_id()
    second: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shown: Mapped[int] = mapped_column(Integer, default=0)


class LiveRollupCount(ShopScoped, Base):
    """Room events of one type and product (0: none): how many, comments shown, likes."""

    __tablename__ = "live_rollup_counts"

    live_session_id: Mapped[int] = _session_id()
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    shown: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(BigInteger, default=0)


class LiveRollupSource(ShopScoped, Base):
    """Entries by one source: `dimension` "kind" (share, broadcast, reminder, a link channel,
    direct) keyed by that name, or "link" keyed by the entry link's id; visits and viewers."""

    __tablename__ = "live_rollup_sources"

    live_session_id: Mapped[int] = _session_id()
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    viewers: Mapped[int] = mapped_column(Integer, default=0)


class LiveRollupSourceViewer(ShopScoped, Base):
    """That a viewer entered by a source (so a second entry does not count them again)."""

    __tablename__ = "live_rollup_source_viewers"

    live_session_id: Mapped[int] = _session_id()
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewer: Mapped[str] = mapped_column(String(80), primary_key=True)
