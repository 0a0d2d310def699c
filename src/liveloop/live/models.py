"""Tables of the live room: sessions, their line-up, reservations, entry and share links,
viewers (presence and watch time), restrictions (mute/ban) and the sensitive-word list.

Comments, likes, gifts and clicks are not rows here: they are events (``events`` table) written
in batches by the room's buffer. ``live_viewers`` is the one row per viewer per session that
presence keeps up to date (first entry, last seen, watch time, where they came from).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import (
    Base,
    BigId,
    IdMixin,
    JSONType,
    ShopScoped,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)


class LiveStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class EntryChannel(StrEnum):
    """Where an entry link is posted: the traffic sources analytics reports on."""

    GROUP = "group"  # 社群 (WeCom / WeChat groups)
    OFFICIAL_ACCOUNT = "official_account"  # 公众号
    VIDEO_CHANNEL = "video_channel"  # 视频号
    MALL = "mall"  # 商城
    KOL = "kol"  # KOL / KOC
    STAFF = "staff"  # a staff member's own link
    OTHER = "other"


class RestrictionKind(StrEnum):
    MUTE = "mute"
    BAN = "ban"


class WordAction(StrEnum):
    BLOCK = "block"  # the comment is refused (the sender is told)
    MASK = "mask"  # the word is replaced by ＊


class LiveSession(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "live_sessions"
    __table_args__ = (
        Index("ix_live_sessions_shop_status_start", "shop_id", "status", "planned_start"),
        CheckConstraint("planned_end IS NULL OR planned_end > planned_start", name="ck_live_plan"),
    )

    # Public, unguessable room code used in viewer URLs (/live/{code}).
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    anchor_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), index=True, default=None
    )
    cover_path: Mapped[str | None] = mapped_column(String(300), default=None)
    hls_url: Mapped[str] = mapped_column(String(500), default="")
    notice: Mapped[str] = mapped_column(Text, default="")
    planned_start: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    planned_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(16), default=LiveStatus.SCHEDULED.value)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    # Room state that a fresh viewer's snapshot needs (kept in step by the room service).
    comments_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pushed_product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL"), default=None
    )
    announcement: Mapped[str] = mapped_column(String(500), default="")
    pinned: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)

    # Figures kept by presence (the realtime ones live in the hub; these survive restarts).
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    total_viewers: Mapped[int] = mapped_column(Integer, default=0)
    like_total: Mapped[int] = mapped_column(BigInteger, default=0)


class LiveSessionProduct(IdMixin, ShopScoped, Base):
    """The session's product line-up, in order."""

    __tablename__ = "live_session_products"
    __table_args__ = (UniqueConstraint("live_session_id", "product_id"),)

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class LiveReservation(IdMixin, ShopScoped, Base):
    """A customer's 预约 of a scheduled session: the audience of its reminders."""

    __tablename__ = "live_reservations"
    __table_args__ = (UniqueConstraint("live_session_id", "customer_id"),)

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    source_code: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class LiveEntryLink(IdMixin, TimestampMixin, ShopScoped, Base):
    """An entry link for one channel, carrying a source code that every entry records."""

    __tablename__ = "live_entry_links"

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(24))
    label: Mapped[str] = mapped_column(String(100), default="")
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    customer_id: Mapped[int | None] = mapped_column(  # the KOL/KOC customer behind the link
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )


class LiveShare(IdMixin, ShopScoped, Base):
    """A viewer's share link: who brought whom."""

    __tablename__ = "live_shares"

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True)
    sharer_customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True, default=None
    )
    sharer_device_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LiveViewer(IdMixin, ShopScoped, Base):
    """One row per viewer (customer, else device) per session: presence and attribution."""

    __tablename__ = "live_viewers"
    __table_args__ = (UniqueConstraint("live_session_id", "viewer_key"),)

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    viewer_key: Mapped[str] = mapped_column(String(80))  # "c:<customer id>" or "d:<device id>"
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True, default=None
    )
    device_id: Mapped[str] = mapped_column(String(64), default="")
    source_code: Mapped[str] = mapped_column(String(32), default="")
    referrer_customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    first_entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    watch_seconds: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=1)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)


class LiveRestriction(IdMixin, ShopScoped, Base):
    """A mute or ban of a customer and/or device, for one session or (session null) the shop."""

    __tablename__ = "live_restrictions"
    __table_args__ = (Index("ix_live_restrictions_lookup", "shop_id", "kind", "live_session_id"),)

    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), default=None
    )
    device_id: Mapped[str] = mapped_column(String(64), default="")
    until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)  # None: for good
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SensitiveWord(IdMixin, ShopScoped, Base):
    __tablename__ = "live_sensitive_words"
    __table_args__ = (UniqueConstraint("shop_id", "word"),)

    word: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(8), default=WordAction.MASK.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
