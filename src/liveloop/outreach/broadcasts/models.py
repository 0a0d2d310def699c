"""Tables of outreach/broadcasts: a broadcast, one row per recipient (its delivery state and
click token), and the clicks recorded by the public redirect `/r/{token}`.

`broadcast_recipients` is unique on (broadcast, customer, channel): preparing a broadcast twice
inserts nothing more, and its id gives the message key "bc:{broadcast_id}:{recipient_id}" that
a provider deduplicates on when a crashed delivery is resumed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin

# Broadcast.status
DRAFT, SCHEDULED, SENDING, SENT, CANCELLED = "draft", "scheduled", "sending", "sent", "cancelled"

# BroadcastRecipient.status (clicked/unsubscribed follow sent/delivered)
R_QUEUED, R_SENDING, R_SENT, R_DELIVERED = "queued", "sending", "sent", "delivered"
R_FAILED, R_SKIPPED, R_CLICKED, R_UNSUBSCRIBED = "failed", "skipped", "clicked", "unsubscribed"
REACHED = (R_SENT, R_DELIVERED, R_CLICKED, R_UNSUBSCRIBED)


class Broadcast(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "outreach_broadcasts"
    __table_args__ = (Index("ix_outreach_broadcasts_shop_status", "shop_id", "status"),)

    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    kind: Mapped[str] = mapped_column(String(24))  # ChannelKind
    # outreach_channels.id (H1's table; no foreign key so each part's tables stand alone).
    channel_id: Mapped[int | None] = mapped_column(BigId, default=None)
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    # {"segments": [id], "tags_any": [id], "tags_all": [id], "tags_none": [id],
    #  "communities": [id], "exclude_segments": [id], "exclude_customers": [id]}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # [{"key": "A", "weight": 50, "template_id": 3 | None, "parts": {...}, "audience": {...}?}]
    variants: Mapped[list[Any]] = mapped_column(default=list)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    marketing: Mapped[bool] = mapped_column(default=True)
    coupon_code: Mapped[str | None] = mapped_column(String(64), default=None)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )


class BroadcastRecipient(IdMixin, ShopScoped, Base):
    __tablename__ = "outreach_broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "customer_id", "channel_id", name="uq_bc_recipient"),
        Index("ix_bc_recipients_claim", "broadcast_id", "status", "id"),
        Index("ix_bc_recipients_customer", "customer_id"),  # ON DELETE CASCADE from customers
        Index(
            "uq_bc_recipients_click_token",
            "click_token",
            unique=True,
            sqlite_where=text("click_token IS NOT NULL"),
            postgresql_where=text("click_token IS NOT NULL"),
        ),
    )

    broadcast_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outreach_broadcasts.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(BigId, default=0)  # 0: no configured channel
    status: Mapped[str] = mapped_column(String(16), default=R_QUEUED)
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    variant: Mapped[str | None] = mapped_column(String(24), default=None)  # None: hold-out
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    send_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # quiet hours: later
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Links sent before 0026 carry a stored random token; later links are signed recipient ids
    # (results.click_token), so enqueueing writes no token and no random-key index entry.
    click_token: Mapped[str | None] = mapped_column(String(24), default=None)
    provider_message_id: Mapped[str | None] = mapped_column(String(120), default=None)
    queued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    clicked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class BroadcastClick(IdMixin, ShopScoped, Base):
    __tablename__ = "outreach_broadcast_clicks"
    __table_args__ = (Index("ix_bc_clicks_broadcast", "broadcast_id", "variant"),)

    broadcast_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outreach_broadcasts.id", ondelete="CASCADE")
    )
    recipient_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outreach_broadcast_recipients.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId)
    variant: Mapped[str | None] = mapped_column(String(24), default=None)
    target: Mapped[str] = mapped_column(String(300))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[dt.datetime] = mapped_column()
