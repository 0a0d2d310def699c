"""Tables of channel codes (活码): codes, their staff, daily counters, arrivals, WeCom settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

CODE_KINDS: tuple[str, ...] = ("staff", "store", "kol", "channel")
# single: always the first staff; round_robin: in turn; capacity: the least loaded staff under
# their daily cap; time_of_day: the staff whose window holds the shop's local time.
ROUTINGS: tuple[str, ...] = ("single", "round_robin", "capacity", "time_of_day")


class ChannelCode(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "channel_codes"

    name: Mapped[str] = mapped_column(String(100))
    # The short public code of /c/{code}; also the WeCom contact way `state`.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="staff")
    routing: Mapped[str] = mapped_column(String(16), default="single")
    tag_ids: Mapped[list[int]] = mapped_column(default=list)
    # Stored here; the outreach domain sends it (a "welcome_due" event is written on arrival).
    welcome_message: Mapped[str | None] = mapped_column(Text, default=None)
    # Routed scans per shop-local day; None = no limit.
    daily_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    community_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("communities.id", ondelete="SET NULL"), default=None
    )
    # Round robin turn counter: moved by one UPDATE ... RETURNING per scan, never read-then-set.
    rr_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    archived_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ChannelCodeStaff(IdMixin, ShopScoped, Base):
    """A staff member a code routes to, with the contact QR / WeCom contact way they show."""

    __tablename__ = "channel_code_staff"
    __table_args__ = (UniqueConstraint("channel_code_id", "staff_id"),)

    channel_code_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channel_codes.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    # A WeCom contact way URL (联系我) or any URL that adds this staff; shown as a QR code.
    contact_url: Mapped[str] = mapped_column(Text)
    daily_cap: Mapped[int | None] = mapped_column(Integer, default=None)
    # Time-of-day routing: [["09:00", "12:00"], ["14:00", "18:00"]] in the shop's time zone.
    windows: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The backup takes scans nobody else can (all capped, outside every window).
    is_backup: Mapped[bool] = mapped_column(default=False)


class ChannelCodeCounter(ShopScoped, Base):
    """Per code, shop-local day and staff link (0 = the code itself): atomic counters."""

    __tablename__ = "channel_code_counters"

    channel_code_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channel_codes.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    staff_link_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=0)
    scans: Mapped[int] = mapped_column(Integer, default=0)
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    arrivals: Mapped[int] = mapped_column(Integer, default=0)


class ChannelCodeArrival(IdMixin, ShopScoped, Base):
    """A customer who arrived through a code (once per code and customer)."""

    __tablename__ = "channel_code_arrivals"
    __table_args__ = (UniqueConstraint("channel_code_id", "customer_id"),)

    channel_code_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("channel_codes.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    # "wecom" (add_external_contact callback) or "join_callback" (the signed join callback).
    via: Mapped[str] = mapped_column(String(24))
    arrived_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WecomCallbackSettings(IdMixin, TimestampMixin, ShopScoped, Base):
    """The shop's WeCom callback (接收事件服务器) settings: corp id, token and EncodingAESKey."""

    __tablename__ = "wecom_callback_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    corp_id: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64))
    # The 43-character EncodingAESKey, encrypted at rest like other secrets.
    aes_key_secret: Mapped[bytes] = mapped_column(LargeBinary)
