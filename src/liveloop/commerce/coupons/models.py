"""Tables of coupons: the coupon a merchant defines and the coupons issued to customers."""

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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow


class CouponStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    STOPPED = "stopped"


class CustomerCouponStatus(StrEnum):
    AVAILABLE = "available"
    LOCKED = "locked"  # held by an unpaid order
    USED = "used"
    EXPIRED = "expired"
    RETURNED = "returned"  # given back after a full refund; usable again


# Statuses in which an issued coupon can be put on an order.
USABLE_STATUSES = (CustomerCouponStatus.AVAILABLE.value, CustomerCouponStatus.RETURNED.value)


class ClaimSource(StrEnum):
    LIVE = "live"  # pushed by the anchor in a live room
    LINK = "link"  # the public claim page /coupon/{code}
    GRANT = "grant"  # granted by the system (journeys, points, support)


class Coupon(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint("claimed_count <= total_quantity", name="claimed_within_total"),
        CheckConstraint("claimed_count >= 0", name="claimed_not_negative"),
        CheckConstraint("per_customer_limit >= 1", name="limit_positive"),
        Index("ix_coupons_shop_status", "shop_id", "status", "id"),
    )

    # Public, hard to guess: the claim link /coupon/{code} carries it.
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    amount_off_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    percent_off: Mapped[int] = mapped_column(Integer, default=0)
    max_discount_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    scope: Mapped[str] = mapped_column(String(16), default="all")
    product_ids: Mapped[list[int]] = mapped_column(default=list)
    category_ids: Mapped[list[int]] = mapped_column(default=list)
    # Either a fixed window (valid_from/valid_until) or N days from the claim (valid_days).
    valid_from: Mapped[dt.datetime | None] = mapped_column(default=None)
    valid_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    valid_days: Mapped[int | None] = mapped_column(Integer, default=None)
    total_quantity: Mapped[int] = mapped_column(Integer)
    # Changed only by conditional UPDATEs (claimed_count < total_quantity).
    claimed_count: Mapped[int] = mapped_column(Integer, default=0)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    return_on_refund: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default=CouponStatus.DRAFT.value)

    @property
    def remaining(self) -> int:
        return max(self.total_quantity - self.claimed_count, 0)


class CustomerCoupon(IdMixin, ShopScoped, Base):
    """One coupon issued to one customer."""

    __tablename__ = "customer_coupons"
    __table_args__ = (
        # The n-th claim of a coupon by a customer: n runs 1..per_customer_limit, so a
        # concurrent second claim of the same n fails on this key instead of exceeding the limit.
        UniqueConstraint("coupon_id", "customer_id", "claim_seq"),
        Index("ix_customer_coupons_customer", "shop_id", "customer_id", "status"),
    )

    coupon_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("coupons.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    claim_seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=CustomerCouponStatus.AVAILABLE.value)
    valid_from: Mapped[dt.datetime | None] = mapped_column(default=None)
    valid_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    source: Mapped[str] = mapped_column(String(16), default=ClaimSource.LINK.value)
    reason: Mapped[str] = mapped_column(String(200), default="")
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    # The order that holds (locked) or used it; no FK so coupons do not depend on orders.
    order_id: Mapped[int | None] = mapped_column(BigId, default=None, index=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    returned_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    coupon: Mapped[Coupon] = relationship(lazy="joined")
