"""Tables of communities (社群) and their members (join/leave history kept)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

COMMUNITY_CHANNELS: tuple[str, ...] = ("wecom_group", "wechat_group", "miniprogram", "other")
# 新人群, VIP群, 潜力用户孵化群, product interest group
COMMUNITY_KINDS: tuple[str, ...] = ("newcomer", "vip", "incubation", "interest", "other")


class Community(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "communities"

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="other")
    channel: Mapped[str] = mapped_column(String(16), default="other")
    # The group's id on its channel (e.g. WeCom chat_id), when it has one.
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    owner_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    capacity: Mapped[int] = mapped_column(Integer, default=500)
    # What a customer opens (or scans) to join; shown as a QR code.
    join_url: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    # Group tiers: 0 = entry level; promotion rules move members up (see communities.service).
    tier_level: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    archived_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class CommunityMember(IdMixin, ShopScoped, Base):
    """One stay of a customer in a community: a rejoin is a new row (left_at None = member)."""

    __tablename__ = "community_members"
    __table_args__ = (
        Index("ix_community_members_community_left", "community_id", "left_at"),
        Index("ix_community_members_shop_customer", "shop_id", "customer_id"),
    )

    community_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("communities.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    left_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # How they came: "manual", "import", "channel_code", "live_welfare", "fission", "promotion".
    source: Mapped[str] = mapped_column(String(24), default="manual")
    # Attribution: the live session and what triggered the join (a welfare offer, a code...).
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    trigger: Mapped[str | None] = mapped_column(String(64), default=None)


class CommunityPromotionRule(IdMixin, TimestampMixin, ShopScoped, Base):
    """Group tiers: members of `from_community` who paid at least `min_paid_orders` orders in
    the last `window_days` days are invited into `to_community` (a higher tier_level)."""

    __tablename__ = "community_promotion_rules"

    name: Mapped[str] = mapped_column(String(100))
    from_community_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    to_community_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("communities.id", ondelete="CASCADE")
    )
    min_paid_orders: Mapped[int] = mapped_column(Integer, default=1)
    window_days: Mapped[int] = mapped_column(Integer, default=30)
    # True: the promoted member leaves the lower group (their stay there gets left_at).
    leave_from: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)


class CommunityPromotion(IdMixin, ShopScoped, Base):
    """A customer promoted by a rule: once per rule and customer, which makes the job idempotent."""

    __tablename__ = "community_promotions"
    __table_args__ = (UniqueConstraint("rule_id", "customer_id"),)

    rule_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("community_promotion_rules.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("community_members.id", ondelete="SET NULL"), default=None
    )
    promoted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
