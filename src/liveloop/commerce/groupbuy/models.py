"""Tables of group buy: campaigns, the groups buyers open, their members, the shop's setting."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, UTCDateTime


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class GroupStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"  # N paid members (or simulated at the deadline): orders ship
    FAILED = "failed"  # timed out short of N: paid members are refunded


class MemberStatus(StrEnum):
    PENDING = "pending"  # holds a seat, order not paid yet
    PAID = "paid"
    REFUNDED = "refunded"  # the group failed after they paid
    CANCELLED = "cancelled"  # the group failed before they paid


class GroupBuySettings(IdMixin, TimestampMixin, ShopScoped, Base):
    """One row per shop (absent: the defaults)."""

    __tablename__ = "group_buy_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    # Complete a short group at its deadline as if it had filled (platform "模拟成团").
    simulate_group: Mapped[bool] = mapped_column(default=False)


class GroupBuyCampaign(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "group_buy_campaigns"
    __table_args__ = (
        CheckConstraint("group_size >= 2", name="group_size_at_least_two"),
        CheckConstraint("group_price_fen >= 0", name="group_price_not_negative"),
        CheckConstraint("time_limit_minutes > 0", name="time_limit_positive"),
        CheckConstraint("per_customer_limit > 0", name="per_customer_limit_positive"),
    )

    title: Mapped[str] = mapped_column(String(100))
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    group_price_fen: Mapped[int] = mapped_column(BigInteger)
    group_size: Mapped[int] = mapped_column(Integer)
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    # Units one customer may hold across this campaign's groups (pending or paid).
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.ACTIVE.value)


class GroupBuyGroup(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "group_buy_groups"
    __table_args__ = (
        # The N-th seat is taken by a conditional UPDATE; this makes N+1 impossible anyway.
        CheckConstraint("seats_taken >= 0 AND seats_taken <= group_size", name="seats_in_range"),
        CheckConstraint("paid_count >= 0 AND paid_count <= group_size", name="paid_in_range"),
        Index("ix_group_buy_groups_status_expires", "status", "expires_at"),
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("group_buy_campaigns.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)  # share link /group/{code}
    leader_customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    group_size: Mapped[int] = mapped_column(Integer)  # copied: a campaign edit never moves it
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=GroupStatus.OPEN.value)
    simulated: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class GroupBuyMember(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "group_buy_members"
    __table_args__ = (
        # Joining twice is refused by the service; this holds under any race.
        UniqueConstraint("group_id", "customer_id"),
        UniqueConstraint("order_id"),
        Index("ix_group_buy_members_campaign_customer", "campaign_id", "customer_id"),
    )

    group_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("group_buy_groups.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("group_buy_campaigns.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    is_leader: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=MemberStatus.PENDING.value)
    display_name: Mapped[str] = mapped_column(String(50), default="")  # already masked
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    refund_id: Mapped[int | None] = mapped_column(BigId, default=None)


class GroupBuyHolding(IdMixin, ShopScoped, Base):
    """Units one customer holds (pending or paid) in one campaign: the per-customer limit is a
    conditional UPDATE on this row, never a count followed by an insert."""

    __tablename__ = "group_buy_holdings"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        CheckConstraint("units >= 0", name="units_not_negative"),
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("group_buy_campaigns.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    units: Mapped[int] = mapped_column(Integer, default=0)
