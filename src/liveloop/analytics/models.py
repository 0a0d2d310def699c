"""Tables of the analytics domain: the stored post-live report of each session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, JSONType, ShopScoped, utcnow


class LiveReport(IdMixin, ShopScoped, Base):
    """The post-live report of one session: the whole body as JSON, replaced by each
    regeneration (it is a pure function of the session's rows and events, so nothing is lost).

    `version` is the body's format (REPORT_VERSION when it was written): a page or client that
    finds an older one regenerates it. `generations` counts how often it was (re)built."""

    __tablename__ = "live_reports"
    __table_args__ = (UniqueConstraint("live_session_id"),)

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    generated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    generation_ms: Mapped[int] = mapped_column(Integer, default=0)
    generations: Mapped[int] = mapped_column(Integer, default=1)
