"""Tables of outreach consent: do-not-contact blocks, the contact log that caps count, the shop's
contact policy (caps, quiet hours), and the reminders already sent (one per reservation and kind).

Marketing consent itself is `Customer.consent` (customers domain); these tables hold what
outreach adds to it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

# Why a customer must not be contacted (on one channel key, or on every one: "*").
BLOCK_REASONS: tuple[str, ...] = ("unsubscribed", "bounced", "complaint", "manual")
ALL_CHANNELS = "*"


class ContactBlock(IdMixin, ShopScoped, Base):
    """Do-not-contact: one row per customer and channel key ("*" = every channel)."""

    __tablename__ = "outreach_contact_blocks"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id", "channel_key", name="uq_outreach_blocks_key"),
        Index("ix_outreach_contact_blocks_shop_created", "shop_id", "created_at"),
    )

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel_key: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class ContactLog(IdMixin, ShopScoped, Base):
    """One message that reached (or was handed to) a customer on a channel: what caps count."""

    __tablename__ = "outreach_contact_log"
    __table_args__ = (
        Index("ix_outreach_contact_log_lookup", "shop_id", "channel_key", "customer_id", "at"),
    )

    # No foreign key: the log is append-only and written 100k rows at a time.
    customer_id: Mapped[int] = mapped_column(BigId)
    channel_key: Mapped[str] = mapped_column(String(24))
    at: Mapped[dt.datetime] = mapped_column()
    marketing: Mapped[bool] = mapped_column(Boolean, default=True)
    ref: Mapped[str] = mapped_column(String(64), default="")


class ContactPolicy(IdMixin, TimestampMixin, ShopScoped, Base):
    """The shop's frequency caps and quiet hours (defaults apply while a shop has no row)."""

    __tablename__ = "outreach_contact_policies"
    __table_args__ = (UniqueConstraint("shop_id", name="uq_outreach_contact_policies_shop"),)

    # {"sms": {"count": 2, "days": 7}, ...}; a key absent here takes the "*" entry if any.
    caps: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "HH:MM" in the shop's time zone; both None (or equal) = no quiet hours. (No column
    # defaults: the ORM would put them in place of an explicit None.)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    # Reminders of reserved sessions: also this many minutes before the start (None = only at it).
    reminder_early_minutes: Mapped[int | None] = mapped_column(Integer)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Saved templates (outreach/messages) for reminders: {"start": 3, "early:email": 4, ...};
    # a reminder without one (or whose template is for another channel kind) uses the default.
    reminder_templates: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReminderDispatch(IdMixin, ShopScoped, Base):
    """A reminder claimed for one reservation (or channel-code arrival) and kind: the unique key
    makes every reminder go out at most once, however often and wherever the job runs."""

    __tablename__ = "outreach_reminders"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id", name="uq_outreach_reminders_kind_ref"),
        Index("ix_outreach_reminders_shop_at", "shop_id", "created_at"),
    )

    # "start" / "early" (reservation ids) or "welcome" (channel-code arrival ids).
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    live_session_id: Mapped[int | None] = mapped_column(BigId, default=None)
    channel_id: Mapped[int | None] = mapped_column(BigId, default=None)
    # claimed → sent | delivered | failed | skipped (reason says why).
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    # The run that claimed the row (its rows are the ones it inserted, whoever else ran).
    claim: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
