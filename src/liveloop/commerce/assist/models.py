"""Tables of assist (助力): campaigns, the assists customers start, helps and refused helps."""

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


class RewardKind(StrEnum):
    PRICE_CUT = "price_cut"  # 砍价: the SKU at the target price once the helpers are in
    COUPON = "coupon"  # a coupon granted through the coupons service


class AssistCampaignStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class AssistStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    EXPIRED = "expired"


class RefusalReason(StrEnum):
    SELF_HELP = "self_help"
    ALREADY_HELPED = "already_helped"  # this customer helped in this campaign before
    DEVICE_USED = "device_used"  # this device helped in this campaign (maybe as someone else)
    NOT_NEW_CUSTOMER = "not_new_customer"
    HELPER_CAP = "helper_cap"  # the campaign's helps are used up
    ASSIST_CLOSED = "assist_closed"  # completed or expired
    NO_CUSTOMER = "no_customer"  # a guest must identify before helping


class AssistCampaign(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "assist_campaigns"
    __table_args__ = (
        CheckConstraint("helpers_needed > 0", name="helpers_needed_positive"),
        CheckConstraint("time_limit_minutes > 0", name="time_limit_positive"),
        CheckConstraint("helps_used >= 0", name="helps_used_not_negative"),
        CheckConstraint("max_helps IS NULL OR helps_used <= max_helps", name="helps_within_cap"),
    )

    title: Mapped[str] = mapped_column(String(100))
    reward_kind: Mapped[str] = mapped_column(String(16))
    # price_cut: the SKU whose price drops from its price to target_price_fen.
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), default=None
    )
    sku_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("skus.id", ondelete="CASCADE"), default=None
    )
    target_price_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # coupon: granted once per completed assist.
    coupon_id: Mapped[int | None] = mapped_column(BigId, default=None)
    helpers_needed: Mapped[int] = mapped_column(Integer)
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    new_customers_only: Mapped[bool] = mapped_column(default=False)
    # The campaign's whole budget of helps (None: no cap); helps_used moves conditionally.
    max_helps: Mapped[int | None] = mapped_column(Integer, default=None)
    helps_used: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    status: Mapped[str] = mapped_column(String(16), default=AssistCampaignStatus.ACTIVE.value)


class Assist(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "assists"
    __table_args__ = (
        CheckConstraint(
            "helpers_count >= 0 AND helpers_count <= helpers_needed", name="helpers_in_range"
        ),
        UniqueConstraint("campaign_id", "customer_id"),  # one assist per customer per campaign
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assist_campaigns.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)  # share link /assist/{code}
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(String(64), default="")
    display_name: Mapped[str] = mapped_column(String(50), default="")
    helpers_needed: Mapped[int] = mapped_column(Integer)
    helpers_count: Mapped[int] = mapped_column(Integer, default=0)
    start_price_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    target_price_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status: Mapped[str] = mapped_column(String(16), default=AssistStatus.OPEN.value)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Set by one conditional UPDATE: the reward is granted once, however often it is asked.
    reward_granted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    customer_coupon_id: Mapped[int | None] = mapped_column(BigId, default=None)
    order_id: Mapped[int | None] = mapped_column(BigId, default=None)  # price cut redeemed


class AssistHelp(IdMixin, ShopScoped, Base):
    __tablename__ = "assist_helps"
    __table_args__ = (
        # One help per helper and one per device in a campaign, even under any race.
        UniqueConstraint("campaign_id", "helper_customer_id"),
        UniqueConstraint("campaign_id", "device_id"),
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assist_campaigns.id", ondelete="CASCADE")
    )
    assist_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assists.id", ondelete="CASCADE"), index=True
    )
    helper_customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE")
    )
    device_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(50), default="")
    cut_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AssistRefusal(IdMixin, ShopScoped, Base):
    """A help that was refused, with why: the console's abuse list."""

    __tablename__ = "assist_refusals"
    __table_args__ = (Index("ix_assist_refusals_shop_campaign", "shop_id", "campaign_id", "id"),)

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assist_campaigns.id", ondelete="CASCADE")
    )
    assist_id: Mapped[int] = mapped_column(BigId, ForeignKey("assists.id", ondelete="CASCADE"))
    helper_customer_id: Mapped[int | None] = mapped_column(BigId, default=None)
    device_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
