"""Tables of lotteries (抽奖): the lottery with its committed seed, and its entrants."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
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

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class LotteryStatus(StrEnum):
    RUNNING = "running"  # taking entries until ends_at, then drawn by a job
    DRAWN = "drawn"  # winners chosen; seed and entrant list published
    CANCELLED = "cancelled"  # stopped without a draw; the seed is published all the same


class PrizeKind(StrEnum):
    COUPON = "coupon"  # granted at the draw
    POINTS = "points"  # granted at the draw
    PRODUCT = "product"  # shipped: the winner gives an address
    CUSTOM = "custom"  # arranged by the shop (e.g. a meet-and-greet): the winner gives contact


class PrizeStatus(StrEnum):
    GRANTED = "granted"  # coupon or points credited
    AWAITING_ADDRESS = "awaiting_address"  # product/custom: the winner has not answered yet
    TO_SHIP = "to_ship"  # address given; the shop ships (or arranges)
    SHIPPED = "shipped"  # the shop marked it sent
    FAILED = "failed"  # granting failed (e.g. the coupon ran out): see prize_note


class Lottery(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "live_lotteries"
    __table_args__ = (
        # One running lottery per room, and one per prize: the key columns are set while the
        # lottery runs and cleared when it is drawn or cancelled (NULLs never collide).
        UniqueConstraint("running_room_key", name="uq_live_lotteries_running_room"),
        UniqueConstraint("shop_id", "running_prize_key", name="uq_live_lotteries_running_prize"),
        CheckConstraint("winner_count >= 1", name="winner_count_positive"),
        Index("ix_live_lotteries_session", "shop_id", "live_session_id", "id"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(100))
    prize_kind: Mapped[str] = mapped_column(String(16))
    prize_name: Mapped[str] = mapped_column(String(100))
    prize_coupon_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("coupons.id", ondelete="SET NULL"), default=None
    )
    prize_product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL"), default=None
    )
    prize_points: Mapped[int] = mapped_column(Integer, default=0)
    winner_count: Mapped[int] = mapped_column(Integer)
    condition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    exclude_banned: Mapped[bool] = mapped_column(default=True)
    exclude_winners_today: Mapped[bool] = mapped_column(default=True)
    # Staff: customers with a staff member's e-mail, or tagged STAFF_TAG (员工).
    exclude_staff: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default=LotteryStatus.RUNNING.value)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    drawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # The commitment published at the start (sha256 of the seed, hex) and the seed, kept
    # secret until the draw. See docs/lottery-fairness.md.
    seed_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str] = mapped_column(String(64))
    # Keys the entrants' tickets (pseudonyms); never published, so a published list cannot be
    # turned back into customer ids.
    ticket_salt: Mapped[str] = mapped_column(String(64))
    entrant_count: Mapped[int] = mapped_column(Integer, default=0)
    entrants_hash: Mapped[str] = mapped_column(String(64), default="")
    winner_tickets: Mapped[list[str]] = mapped_column(default=list)
    running_room_key: Mapped[int | None] = mapped_column(BigInteger, default=None)
    running_prize_key: Mapped[str | None] = mapped_column(String(48), default=None)
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )

    @property
    def published_seed(self) -> str | None:
        return None if self.status == LotteryStatus.RUNNING.value else self.seed


class LotteryEntry(IdMixin, ShopScoped, Base):
    """A customer in a lottery: joined (tapped 参与) before the draw, or entered by it.

    `position` is the place in the published, ticket-ordered entrant list (None: joined but
    not an entrant at the draw, e.g. no longer meeting the condition); `rank` the winner's
    place (1 = drawn first)."""

    __tablename__ = "live_lottery_entries"
    __table_args__ = (
        UniqueConstraint("lottery_id", "customer_id"),
        Index("ix_live_lottery_entries_winners", "shop_id", "customer_id", "rank"),
    )

    lottery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_lotteries.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    ticket: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    position: Mapped[int | None] = mapped_column(Integer, default=None)
    rank: Mapped[int | None] = mapped_column(Integer, default=None)
    prize_status: Mapped[str | None] = mapped_column(String(20), default=None)
    prize_note: Mapped[str] = mapped_column(String(200), default="")
    # Product/custom prizes: where to send it, in the winner's address book (commerce).
    address_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("addresses.id", ondelete="SET NULL"), default=None
    )
    won_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
