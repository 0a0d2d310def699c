"""Tables of follow for welfare (关注送福利): the room's offer and each viewer's claim of it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class OfferStatus(StrEnum):
    RUNNING = "running"  # on show in the room: viewers may tap and join
    STOPPED = "stopped"  # taken down by the anchor (or its duration passed)


class RewardKind(StrEnum):
    COUPON = "coupon"
    POINTS = "points"


class ConfirmBy(StrEnum):
    LINK = "link"  # opening the personal join link and confirming is the join
    CHANNEL = "channel"  # the link forwards to the group; the channel adapter confirms the join


class ClaimOutcome(StrEnum):
    REWARDED = "rewarded"  # joined through the offer and the reward was granted
    ALREADY_MEMBER = "already_member"  # was in the group already: nothing to join, no reward
    NOT_NEW = "not_new"  # had been in the group before (new_members_only): joined, no reward
    FAILED = "failed"  # joined, but granting failed (coupon used up...): see reward_note
    COMMUNITY_FULL = "community_full"  # the group had no room: not joined, no reward


class WelfareOffer(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "live_welfare_offers"
    __table_args__ = (
        # One running offer per room: set while it runs, cleared when stopped (NULLs never
        # collide), so two starts racing leave one offer running.
        UniqueConstraint("running_room_key", name="uq_live_welfare_offers_running_room"),
        Index("ix_live_welfare_offers_session", "shop_id", "live_session_id", "id"),
        Index("ix_live_welfare_offers_community", "shop_id", "community_id"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    community_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("communities.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(100))
    popup_text: Mapped[str] = mapped_column(String(100))
    reward_kind: Mapped[str] = mapped_column(String(16))
    reward_name: Mapped[str] = mapped_column(String(100))
    reward_coupon_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("coupons.id", ondelete="SET NULL"), default=None
    )
    reward_points: Mapped[int] = mapped_column(Integer, default=0)
    # Mature practice: welfare is for newcomers. True: a customer who was ever in the group
    # before tapping joins again but gets no reward; a current member never does.
    new_members_only: Mapped[bool] = mapped_column(default=True)
    confirm_by: Mapped[str] = mapped_column(String(16), default=ConfirmBy.LINK.value)
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.RUNNING.value)
    started_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # None: until stopped
    stopped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    running_room_key: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )


class WelfareClaim(IdMixin, ShopScoped, Base):
    """One viewer and one offer: saw the pop-up, tapped it (a customer), opened the personal
    link, joined, was rewarded. A guest who only saw it has a row keyed by device.

    A join is settled by the one transaction whose conditional UPDATE sets `settled_at` (from
    NULL): it decides the outcome and grants the reward. (offer, customer) is unique, so
    however many callbacks or retries arrive, the reward is granted at most once."""

    __tablename__ = "live_welfare_claims"
    __table_args__ = (
        UniqueConstraint("offer_id", "viewer_key"),
        UniqueConstraint("offer_id", "customer_id"),
        Index("ix_live_welfare_claims_customer", "shop_id", "customer_id"),
    )

    offer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_welfare_offers.id", ondelete="CASCADE"), index=True
    )
    viewer_key: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), default=None
    )
    shown_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    tapped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    opened_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    joined_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    settled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    rewarded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # The stay in the community this offer brought (its source is live_welfare).
    member_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("community_members.id", ondelete="SET NULL"), default=None
    )
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    confirmed_via: Mapped[str | None] = mapped_column(String(16), default=None)  # link/channel
    reward_note: Mapped[str] = mapped_column(String(200), default="")
