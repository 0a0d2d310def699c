"""Tables of points (积分) and membership tiers: an append-only ledger and a balance row.

The balance row is changed only by conditional updates in the same transaction as the ledger
row (``... SET balance = balance + :delta WHERE balance + :delta >= 0``), so it never goes
negative and always equals the sum of the ledger.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow


class MemberTier(IdMixin, TimestampMixin, ShopScoped, Base):
    """A membership tier, e.g. 银卡 / 金卡 / 钻石卡; a higher level is a better tier."""

    __tablename__ = "member_tiers"
    __table_args__ = (UniqueConstraint("shop_id", "level"),)

    name: Mapped[str] = mapped_column(String(50))
    level: Mapped[int] = mapped_column(Integer)
    # Qualify by either threshold (None: not used), over the shop's tier window.
    min_points: Mapped[int | None] = mapped_column(BigInteger, default=None)
    min_spend_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # {"coupon_ids": [...], "member_discount_percent": 95, "priority_service": true, ...}
    benefits: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CustomerPoints(ShopScoped, Base):
    """A customer's points balance and tier (one row per customer that ever had points)."""

    __tablename__ = "customer_points"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        Index("ix_customer_points_shop_tier", "shop_id", "tier_id"),
    )

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("member_tiers.id", ondelete="SET NULL"), default=None
    )
    tier_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Since when the customer no longer qualifies for their tier (downgrade grace), if so.
    below_tier_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PointsEntry(IdMixin, ShopScoped, Base):
    """One change of a customer's points (append-only; never updated or deleted)."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key"),
        Index("ix_points_ledger_customer_time", "shop_id", "customer_id", "created_at"),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(BigInteger)  # + earned, - redeemed or expired
    balance_after: Mapped[int] = mapped_column(BigInteger)
    # "check_in", "comment", "share", "watch", "purchase", "review", "redeem", "expire",
    # "manual", "lottery", "welfare", "fission", "refund" ...
    reason: Mapped[str] = mapped_column(String(24))
    # What it was for, e.g. ("order", 42) or ("lottery", 7).
    ref_type: Mapped[str | None] = mapped_column(String(24), default=None)
    ref_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Makes a grant happen once: e.g. "order:42:earn", "checkin:2026-11-23".
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # earned points only
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)


# ------------------------------------------------------------------ added by 0011 (rules)


class PointsSettings(ShopScoped, Base):
    """A shop's points and tier policy (one row; a shop without one uses the defaults)."""

    __tablename__ = "points_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # "end_of_following_year" (default), "days" (expiry_days after earning) or "never".
    expiry_mode: Mapped[str] = mapped_column(String(24), default="end_of_following_year")
    expiry_days: Mapped[int] = mapped_column(Integer, default=365)
    # "points_lifetime", "points_window" (earned in the window) or "spend_window" (fen paid).
    tier_basis: Mapped[str] = mapped_column(String(24), default="points_lifetime")
    tier_window_days: Mapped[int] = mapped_column(Integer, default=365)
    # A customer below their tier keeps it this many days before the downgrade.
    downgrade_grace_days: Mapped[int] = mapped_column(Integer, default=30)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EarnRule(IdMixin, TimestampMixin, ShopScoped, Base):
    """Points for one kind of behaviour, e.g. 5 points a comment, at most 20 a day."""

    __tablename__ = "points_earn_rules"
    __table_args__ = (UniqueConstraint("shop_id", "event_type"),)

    # check_in, comment, share, watch_minutes (points a minute), purchase (points a ¥1 paid),
    # review
    event_type: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(Integer)
    daily_cap: Mapped[int | None] = mapped_column(Integer, default=None)  # per customer
    is_active: Mapped[bool] = mapped_column(default=True)


class DailyEarnCount(ShopScoped, Base):
    """Points one customer earned by one rule on one shop day: the counter daily caps move
    by compare-and-set."""

    __tablename__ = "points_daily_earned"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    event_type: Mapped[str] = mapped_column(String(24), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


class EventCursor(Base):
    """How far the earn job has read the events table (one row per reader)."""

    __tablename__ = "points_event_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RedemptionItem(IdMixin, TimestampMixin, ShopScoped, Base):
    """An entry of the points catalogue (积分商城): a coupon for so many points."""

    __tablename__ = "points_redemption_items"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR redeemed_count <= stock", name="within_stock"),
    )

    title: Mapped[str] = mapped_column(String(100))
    coupon_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupons.id", ondelete="CASCADE"))
    points_price: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(Integer, default=None)  # None: unlimited
    redeemed_count: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(IdMixin, ShopScoped, Base):
    """One redemption: the points spent and what the customer got for them."""

    __tablename__ = "points_redemptions"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key"),
        Index("ix_points_redemptions_customer", "shop_id", "customer_id"),
    )

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("points_redemption_items.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("points_ledger.id"))
    customer_coupon_id: Mapped[int | None] = mapped_column(BigId, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TierChange(IdMixin, ShopScoped, Base):
    """Every move of a customer between tiers (None: no tier), for charts and the timeline."""

    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_shop_time", "shop_id", "changed_at"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    from_tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("member_tiers.id", ondelete="SET NULL"), default=None
    )
    to_tier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("member_tiers.id", ondelete="SET NULL"), default=None
    )
    from_level: Mapped[int] = mapped_column(Integer, default=0)
    to_level: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(24))  # upgrade / downgrade / manual
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TierBenefitGrant(ShopScoped, Base):
    """The upgrade benefits a customer was given for a tier: once per customer and tier."""

    __tablename__ = "tier_benefit_grants"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tier_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("member_tiers.id", ondelete="CASCADE"), primary_key=True
    )
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # {"coupons": [customer_coupon ids], "failed": [{"coupon_id": .., "reason": ..}]}
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
