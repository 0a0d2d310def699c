"""Tables of referral fission (裂变 / 任务宝): campaigns, participants with their invite link,
invites (counted or not, with why) and the one reward per participant."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow


class Goal(StrEnum):
    JOIN = "join"  # the invitee becomes a customer through the link
    BUY = "buy"  # the invitee's first paid order after the invite


class RewardKind(StrEnum):
    COUPON = "coupon"
    POINTS = "points"
    PRODUCT = "product"  # shipped: a reward row "to_ship" with the address


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"


class InviteStatus(StrEnum):
    PENDING = "pending"  # waiting for a purchase or the 24 h community check
    COUNTED = "counted"
    REJECTED = "rejected"  # not counted; `reason` says why


class RejectReason(StrEnum):
    SELF_INVITE = "self_invite"
    SAME_DEVICE = "same_device"  # as the inviter or another invitee of the same inviter
    SAME_PHONE = "same_phone"  # as the inviter or another invitee of the same inviter
    EXISTING_CUSTOMER = "existing_customer"  # join goals take new customers only
    ALREADY_INVITED = "already_invited"  # someone else's invite of this person came first
    LEFT_COMMUNITY = "left_community"  # left the campaign's community within 24 h
    CAMPAIGN_ENDED = "campaign_ended"  # qualified (bought / stayed) after the campaign ended


class RewardStatus(StrEnum):
    GRANTED = "granted"  # coupon or points given
    TO_SHIP = "to_ship"  # product, address known
    NEEDS_ADDRESS = "needs_address"  # product, the participant must give an address
    SHIPPED = "shipped"
    OUT_OF_STOCK = "out_of_stock"  # reached the goal after the reward stock ran out
    FAILED = "failed"  # the grant itself failed (e.g. coupon used up); `note` says why


class FissionCampaign(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "fission_campaigns"
    __table_args__ = (
        UniqueConstraint("code"),
        CheckConstraint("invitees_needed > 0", name="invitees_needed_positive"),
        CheckConstraint("rewards_given >= 0", name="rewards_given_not_negative"),
        CheckConstraint(
            "reward_stock IS NULL OR rewards_given <= reward_stock", name="rewards_within_stock"
        ),
        Index("ix_fission_campaigns_shop_status", "shop_id", "status", "id"),
    )

    code: Mapped[str] = mapped_column(String(16))  # public: /f/c/{code} lets anyone join
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[str] = mapped_column(String(8), default=Goal.JOIN.value)
    invitees_needed: Mapped[int] = mapped_column(Integer)
    reward_kind: Mapped[str] = mapped_column(String(16))
    reward_coupon_id: Mapped[int | None] = mapped_column(BigId, default=None)
    reward_points: Mapped[int | None] = mapped_column(Integer, default=None)
    reward_product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL"), default=None
    )
    reward_title: Mapped[str] = mapped_column(String(100), default="")  # shown on the poster
    # None: unlimited. rewards_given moves only by a conditional UPDATE (< reward_stock).
    reward_stock: Mapped[int | None] = mapped_column(Integer, default=None)
    rewards_given: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ends_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    community_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("communities.id", ondelete="SET NULL"), default=None
    )
    # {"color": "#c0392b", "headline": "...", "subtitle": "..."}
    poster: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.ACTIVE.value)

    @property
    def stock_left(self) -> int | None:
        return None if self.reward_stock is None else max(self.reward_stock - self.rewards_given, 0)


class FissionParticipant(IdMixin, ShopScoped, Base):
    """A customer taking part: owns the invite link /f/{code}."""

    __tablename__ = "fission_participants"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        UniqueConstraint("code"),
        Index("ix_fission_participants_board", "campaign_id", "counted_count"),
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("fission_campaigns.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(50), default="")  # already masked
    device_id: Mapped[str] = mapped_column(String(64), default="")
    phone_key: Mapped[str | None] = mapped_column(String(128), default=None)
    link_opens: Mapped[int] = mapped_column(Integer, default=0)
    invitee_count: Mapped[int] = mapped_column(Integer, default=0)  # any status
    counted_count: Mapped[int] = mapped_column(Integer, default=0)
    reached_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FissionInvite(IdMixin, ShopScoped, Base):
    """An invitee who accepted a participant's link (counted, pending, or rejected and why)."""

    __tablename__ = "fission_invites"
    __table_args__ = (
        # A person counts for one inviter per campaign: the first live invite wins the race.
        Index(
            "uq_fission_invites_live_invitee",
            "campaign_id",
            "invitee_customer_id",
            unique=True,
            sqlite_where=text("status != 'rejected'"),
            postgresql_where=text("status != 'rejected'"),
        ),
        Index("ix_fission_invites_participant", "participant_id", "status"),
        Index("ix_fission_invites_shop_invitee", "shop_id", "invitee_customer_id", "status"),
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("fission_campaigns.id", ondelete="CASCADE")
    )
    participant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("fission_participants.id", ondelete="CASCADE")
    )
    inviter_customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE")
    )
    invitee_customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE")
    )
    device_id: Mapped[str] = mapped_column(String(64), default="")
    phone_key: Mapped[str | None] = mapped_column(String(128), default=None)
    invitee_was_new: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=InviteStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    order_id: Mapped[int | None] = mapped_column(BigId, default=None)  # buy goals
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class FissionReward(IdMixin, ShopScoped, Base):
    __tablename__ = "fission_rewards"
    __table_args__ = (
        UniqueConstraint("campaign_id", "participant_id"),  # one reward per participant
        Index("ix_fission_rewards_shop_status", "shop_id", "status", "id"),
    )

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("fission_campaigns.id", ondelete="CASCADE")
    )
    participant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("fission_participants.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    customer_coupon_id: Mapped[int | None] = mapped_column(BigId, default=None)
    points: Mapped[int | None] = mapped_column(Integer, default=None)
    product_id: Mapped[int | None] = mapped_column(BigId, default=None)
    address_id: Mapped[int | None] = mapped_column(BigId, default=None)
    # Frozen copy of where to ship: {"recipient": ..., "phone_masked": ..., "line": ...}
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
