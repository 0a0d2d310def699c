"""Tables of affiliates: KOL/KOC profiles, their codes and rates, attributed orders, commission."""

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

from liveloop.core.database import (
    Base,
    BigId,
    IdMixin,
    ShopScoped,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)

MAX_RATE_BP = 10_000  # 100 %


class AffiliateKind(StrEnum):
    KOL = "kol"  # key opinion leader: a paid promoter
    KOC = "koc"  # key opinion consumer: a customer who promotes


class CodeKind(StrEnum):
    PROMO = "promo"  # typed at checkout / carried as attribution["promo_code"]
    SHARE = "share"  # a share link (order.share_code)
    SOURCE = "source"  # a live entry link's source code (order.source_code)


class CommissionStatus(StrEnum):
    PENDING = "pending"  # paid order, inside its return window
    SETTLED = "settled"  # return window over: owed to the affiliate
    REVERSED = "reversed"  # fully refunded before settlement


class AffiliateSettings(IdMixin, TimestampMixin, ShopScoped, Base):
    """One row per shop (absent: the defaults)."""

    __tablename__ = "affiliate_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    # Commission settles this many days after the order completed ...
    return_window_days: Mapped[int] = mapped_column(Integer, default=7)
    # ... or, when the buyer never confirms receipt, this many days after shipping.
    ship_settle_days: Mapped[int] = mapped_column(Integer, default=17)


class Affiliate(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "affiliates"
    __table_args__ = (
        CheckConstraint(f"default_rate_bp >= 0 AND default_rate_bp <= {MAX_RATE_BP}", name="rate"),
    )

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    default_rate_bp: Mapped[int] = mapped_column(Integer, default=0)  # basis points: 1000 = 10 %
    is_active: Mapped[bool] = mapped_column(default=True)


class AffiliateCode(IdMixin, ShopScoped, Base):
    __tablename__ = "affiliate_codes"
    __table_args__ = (UniqueConstraint("shop_id", "code"),)

    affiliate_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("affiliates.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8), default=CodeKind.PROMO.value)
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AffiliateProductRate(IdMixin, ShopScoped, Base):
    __tablename__ = "affiliate_product_rates"
    __table_args__ = (
        UniqueConstraint("affiliate_id", "product_id"),
        CheckConstraint(f"rate_bp >= 0 AND rate_bp <= {MAX_RATE_BP}", name="rate"),
    )

    affiliate_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("affiliates.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"))
    rate_bp: Mapped[int] = mapped_column(Integer)


class AffiliateOrder(IdMixin, ShopScoped, Base):
    """An order attributed to an affiliate (at most one per order)."""

    __tablename__ = "affiliate_orders"
    __table_args__ = (
        UniqueConstraint("order_id"),
        Index("ix_affiliate_orders_affiliate", "affiliate_id", "id"),
    )

    affiliate_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("affiliates.id", ondelete="CASCADE")
    )
    order_id: Mapped[int] = mapped_column(BigId)
    order_number: Mapped[str] = mapped_column(String(32), default="")
    code: Mapped[str] = mapped_column(String(32))
    matched_by: Mapped[str] = mapped_column(
        String(16)
    )  # promo | share | source | entry_link | live_share
    # Items after discounts, the base commission is computed on (shipping excluded).
    gmv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    order_status: Mapped[str] = mapped_column(String(24), default="pending_payment")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Commission(IdMixin, TimestampMixin, ShopScoped, Base):
    """Commission on one order line. Owed = amount_fen - reversed_fen."""

    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("order_line_id"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        CheckConstraint(
            "reversed_fen >= 0 AND reversed_fen <= amount_fen", name="reversed_in_range"
        ),
        CheckConstraint(
            "refunded_base_fen >= 0 AND refunded_base_fen <= base_fen", name="refunded_in_range"
        ),
        Index("ix_commissions_affiliate_status", "affiliate_id", "status"),
        Index("ix_commissions_status_settle", "status", "settle_after"),
    )

    affiliate_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("affiliates.id", ondelete="CASCADE")
    )
    order_id: Mapped[int] = mapped_column(BigId, index=True)
    order_line_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int | None] = mapped_column(BigId, default=None)
    base_fen: Mapped[int] = mapped_column(BigInteger)  # line total after its discount
    rate_bp: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_base_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reversed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=CommissionStatus.PENDING.value)
    settle_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def owed_fen(self) -> int:
        return self.amount_fen - self.reversed_fen


class CommissionReversal(IdMixin, ShopScoped, Base):
    """What one refund took back from one commission; unique so a replayed refund is a no-op."""

    __tablename__ = "commission_reversals"
    __table_args__ = (UniqueConstraint("commission_id", "refund_id"),)

    commission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("commissions.id", ondelete="CASCADE")
    )
    refund_id: Mapped[int] = mapped_column(BigId)
    refunded_base_fen: Mapped[int] = mapped_column(BigInteger)
    reversed_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
