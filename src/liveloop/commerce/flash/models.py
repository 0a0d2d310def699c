"""Tables of flash sales (秒杀): the sale, each buyer's count, and each reservation."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow


class FlashSaleStatus(StrEnum):
    ACTIVE = "active"  # on sale between starts_at and ends_at
    STOPPED = "stopped"  # stopped by hand; unsold units are back in SKU stock
    ENDED = "ended"  # past ends_at; unsold units are back in SKU stock


class ReservationStatus(StrEnum):
    ORDERED = "ordered"  # an order holds the units (pending payment or paid)
    RELEASED = "released"  # the order expired or was cancelled: units came back


class FlashSale(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "flash_sales"
    __table_args__ = (
        CheckConstraint("sold_count <= quantity", name="sold_within_quantity"),
        CheckConstraint("sold_count >= 0", name="sold_not_negative"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("per_customer_limit >= 1", name="limit_positive"),
        Index("ix_flash_sales_shop_status", "shop_id", "status", "id"),
    )

    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(100))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    original_price_fen: Mapped[int] = mapped_column(BigInteger)
    # Carved out of the SKU's stock when the sale is created.
    quantity: Mapped[int] = mapped_column(Integer)
    # Units held by orders (pending or paid); changed only by conditional UPDATEs.
    sold_count: Mapped[int] = mapped_column(Integer, default=0)
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=FlashSaleStatus.ACTIVE.value)
    # Units given back to SKU stock when the sale finished (and later by released orders).
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    @property
    def remaining(self) -> int:
        return max(self.quantity - self.sold_count, 0)

    def state_at(self, now: dt.datetime) -> str:
        """scheduled / on_sale / sold_out / ended / stopped: what a viewer is shown."""
        if self.status != FlashSaleStatus.ACTIVE.value:
            return self.status
        if now < self.starts_at:
            return "scheduled"
        if now >= self.ends_at:
            return "ended"
        return "sold_out" if self.remaining == 0 else "on_sale"


class FlashBuyer(ShopScoped, Base):
    """How many units one customer holds in one sale (orders not released)."""

    __tablename__ = "flash_buyers"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    flash_sale_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("flash_sales.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=0)


class FlashReservation(IdMixin, ShopScoped, Base):
    """One successful reservation and the order it became."""

    __tablename__ = "flash_reservations"

    flash_sale_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("flash_sales.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    # No FK: flash sales do not depend on the orders table; one reservation per order.
    order_id: Mapped[int] = mapped_column(BigId, unique=True)
    quantity: Mapped[int] = mapped_column(Integer)
    # The Redis reservation token (or a random one on the SQL path): reconciliation asks
    # "did the reservation with this token reach the database?".
    token: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReservationStatus.ORDERED.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(default=None)
