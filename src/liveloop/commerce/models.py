"""Tables of commerce core: addresses, carts, orders and their lines, history, idempotency keys.

Payments and refunds (commerce.payments), coupons and flash sales (commerce.coupons,
commerce.flash) have their own tables; they refer to orders by id.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from liveloop.core.database import (
    Base,
    BigId,
    IdMixin,
    JSONType,
    ShopScoped,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class OrderKind(StrEnum):
    NORMAL = "normal"
    FLASH = "flash"
    GROUP = "group"


class Address(IdMixin, TimestampMixin, ShopScoped, Base):
    """A customer's delivery address; phone and street detail are encrypted like other PII."""

    __tablename__ = "addresses"
    __table_args__ = (Index("ix_addresses_shop_customer", "shop_id", "customer_id", "id"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    recipient_name: Mapped[str] = mapped_column(String(50))
    phone_secret: Mapped[bytes] = mapped_column(LargeBinary)
    phone_masked: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(100))  # province / state
    city: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100), default="")
    detail_secret: Mapped[bytes] = mapped_column(LargeBinary)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class CommerceSettings(IdMixin, TimestampMixin, ShopScoped, Base):
    """Per-shop checkout rules; a shop without a row uses the defaults below."""

    __tablename__ = "commerce_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    shipping_fee_fen: Mapped[int] = mapped_column(Integer, default=1000)
    # Orders whose items (after discounts) reach this ship free; None = never free.
    # (No column default: an explicit None must be stored as "never free", not replaced.)
    free_shipping_threshold_fen: Mapped[int | None] = mapped_column(Integer)


class Cart(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "carts"
    __table_args__ = (UniqueConstraint("shop_id", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    items: Mapped[list[CartItem]] = relationship(
        order_by="CartItem.id", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class CartItem(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("cart_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    cart_id: Mapped[int] = mapped_column(BigId, ForeignKey("carts.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(BigId, ForeignKey("skus.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    # The price the viewer saw when adding; checkout compares it with today's price.
    price_fen_when_added: Mapped[int] = mapped_column(BigInteger)
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )


class Order(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "number"),
        Index("ix_orders_shop_created", "shop_id", "created_at"),
        Index("ix_orders_shop_status", "shop_id", "status", "id"),
        Index("ix_orders_shop_customer", "shop_id", "customer_id", "id"),
        Index("ix_orders_shop_live", "shop_id", "live_session_id"),
        Index("ix_orders_pending_expiry", "status", "expires_at"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("paid_fen >= 0", name="paid_not_negative"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= paid_fen", name="refund_within"),
    )

    number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.PENDING_PAYMENT.value)
    kind: Mapped[str] = mapped_column(String(16), default=OrderKind.NORMAL.value)

    items_total_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    # Coupons live in commerce.coupons (a later migration); kept as a plain id.
    customer_coupon_id: Mapped[int | None] = mapped_column(BigId, default=None)
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    source_code: Mapped[str] = mapped_column(String(32), default="")
    share_code: Mapped[str] = mapped_column(String(32), default="")
    attribution: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # True when place_order took SKU stock itself (a flash sale carves its own).
    stock_reserved: Mapped[bool] = mapped_column(Boolean, default=True)

    # Delivery snapshot: the address may change or go; the order keeps what was shipped to.
    recipient_name: Mapped[str] = mapped_column(String(50), default="")
    recipient_phone_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    recipient_phone_masked: Mapped[str] = mapped_column(String(32), default="")
    address_region: Mapped[str] = mapped_column(String(320), default="")
    address_detail_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    buyer_note: Mapped[str] = mapped_column(String(200), default="")

    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    payment_ref: Mapped[str] = mapped_column(String(64), default="")
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    carrier: Mapped[str] = mapped_column(String(50), default="")
    tracking_number: Mapped[str] = mapped_column(String(64), default="")
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    close_reason: Mapped[str] = mapped_column(String(200), default="")

    lines: Mapped[list[OrderLine]] = relationship(
        order_by="OrderLine.id", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


class OrderLine(IdMixin, ShopScoped, Base):
    """A snapshot of what was bought: names and prices stay as they were at ordering."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refund_within"
        ),
    )

    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("skus.id", ondelete="SET NULL"), index=True, default=None
    )
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL"), index=True, default=None
    )
    category_id: Mapped[int | None] = mapped_column(BigId, default=None)
    product_name: Mapped[str] = mapped_column(String(200))
    sku_name: Mapped[str] = mapped_column(String(200), default="")
    sku_code: Mapped[str] = mapped_column(String(64), default="")
    image_path: Mapped[str] = mapped_column(String(200), default="")
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def payable_fen(self) -> int:
        return self.line_total_fen - self.discount_fen


class OrderHistory(IdMixin, ShopScoped, Base):
    """Each state change of an order, for its timeline."""

    __tablename__ = "order_history"

    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(24), default=None)
    to_status: Mapped[str] = mapped_column(String(24))
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyRecord(IdMixin, ShopScoped, Base):
    """An `Idempotency-Key` seen for one scope (e.g. 'order:c42'): a repeat returns the first
    result; the same key with another body is refused."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("shop_id", "scope", "key"),)

    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32), default="")
    resource_id: Mapped[int | None] = mapped_column(BigId, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
