"""Tables of payments: payments, stored provider notifications, refunds, merchant accounts."""

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


class Provider(StrEnum):
    DEMO = "demo"
    WECHATPAY_JSAPI = "wechatpay_jsapi"
    WECHATPAY_H5 = "wechatpay_h5"


class PaymentStatus(StrEnum):
    PENDING = "pending"  # prepay made; waiting for the provider's notification
    SUCCEEDED = "succeeded"  # paid and applied to the order
    CLOSED = "closed"  # the provider closed it unpaid
    TO_REFUND = "to_refund"  # money came in for an order that cannot take it; refund underway
    REFUNDED = "refunded"  # such a payment, given back in full


class NotificationStatus(StrEnum):
    RECEIVED = "received"  # stored, not processed yet (or processing crashed)
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # a repeat of one already applied: changed nothing
    REJECTED = "rejected"  # signature, timestamp or payload did not check out
    REFUSED = "refused"  # genuine but wrong (amount mismatch, unknown payment)


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # asked by the customer, waiting for the merchant
    REJECTED = "rejected"  # the merchant said no
    PENDING = "pending"  # approved; the provider call is due (retried by a job)
    PROCESSING = "processing"  # the provider accepted it; money on its way
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider refused for good; needs a person


# Foreign keys to orders are NO ACTION (checked at the end of the statement): deleting an
# order that has money records is refused, while deleting a whole shop cascades to both.


class Payment(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("shop_id", "number"),
        Index("ix_payments_shop_order", "shop_id", "order_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"
        ),
    )

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    number: Mapped[str] = mapped_column(String(32))  # out_trade_no
    provider: Mapped[str] = mapped_column(String(24))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING.value)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)
    transaction_id: Mapped[str] = mapped_column(String(64), default="")
    prepay: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    return_url: Mapped[str] = mapped_column(String(500), default="")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    openid: Mapped[str] = mapped_column(String(128), default="")
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(String(300), default="")


class PaymentNotification(IdMixin, ShopScoped, Base):
    """Every notification exactly as it arrived, stored before it is processed or answered."""

    __tablename__ = "payment_notifications"
    __table_args__ = (
        Index("ix_payment_notifications_status", "status", "received_at"),
        Index("ix_payment_notifications_shop_trade", "shop_id", "out_trade_no"),
    )

    provider: Mapped[str] = mapped_column(String(24))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.RECEIVED.value)
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(String(500), default="")
    out_trade_no: Mapped[str] = mapped_column(String(32), default="")
    transaction_id: Mapped[str] = mapped_column(String(64), default="")
    amount_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    payment_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("payments.id", ondelete="SET NULL"), default=None
    )
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class Refund(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("shop_id", "number"),
        Index("ix_refunds_shop_order", "shop_id", "order_id"),
        Index("ix_refunds_status", "status", "updated_at"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id"))
    number: Mapped[str] = mapped_column(String(32))  # out_refund_no
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING.value)
    requested_by: Mapped[str] = mapped_column(String(16), default="merchant")  # customer|system
    customer_id: Mapped[int | None] = mapped_column(BigId, default=None)
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)
    restock: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    provider_refund_id: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    lines: Mapped[list[RefundLine]] = relationship(
        order_by="RefundLine.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class RefundLine(IdMixin, ShopScoped, Base):
    __tablename__ = "refund_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    refund_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("refunds.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id"), index=True)
    sku_id: Mapped[int | None] = mapped_column(BigId, default=None)
    quantity: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class PaymentAccount(IdMixin, TimestampMixin, ShopScoped, Base):
    """A shop's merchant account at a provider. Keys are encrypted in `secrets` and never
    shown back; only the identifiers are readable."""

    __tablename__ = "payment_accounts"
    __table_args__ = (UniqueConstraint("shop_id", "provider"),)

    provider: Mapped[str] = mapped_column(String(24))  # "wechatpay"
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    mchid: Mapped[str] = mapped_column(String(32), default="")
    appid: Mapped[str] = mapped_column(String(32), default="")
    serial_no: Mapped[str] = mapped_column(String(64), default="")
    platform_serial: Mapped[str] = mapped_column(String(64), default="")
    api_base: Mapped[str] = mapped_column(String(200), default="")
    secrets: Mapped[bytes] = mapped_column(LargeBinary)
