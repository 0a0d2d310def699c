"""Tables of red packets (红包): the shop's budget and its ledger, the packets, their shares
(fixed at creation: a grab only takes an open share), and the customers' red-packet balance."""

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

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow


class PacketStatus(StrEnum):
    ACTIVE = "active"  # shares may be grabbed between starts_at and ends_at
    ENDED = "ended"  # the window passed (or every share went): the remainder is back in budget
    STOPPED = "stopped"  # stopped early by the anchor: the remainder is back in budget


class ShareState(StrEnum):
    OPEN = "open"
    GRABBED = "grabbed"
    RETURNED = "returned"  # not grabbed when the packet closed: its amount went back to budget


class BudgetEntryKind(StrEnum):
    TOP_UP = "top_up"  # an operator added money
    DEBIT = "debit"  # a packet was created: its whole total
    RETURN = "return"  # a packet closed: what nobody grabbed


class RedPacketBudget(ShopScoped, Base):
    """The shop's red-packet budget now; changed only by conditional UPDATEs."""

    __tablename__ = "red_packet_budgets"
    __table_args__ = (
        UniqueConstraint("shop_id", name="one_budget_per_shop"),
        CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RedPacketBudgetEntry(IdMixin, ShopScoped, Base):
    """One movement of the budget (append-only); `balance_after_fen` is the budget after it."""

    __tablename__ = "red_packet_budget_entries"
    __table_args__ = (
        # A packet is debited once and gets its remainder back once, whatever retries happen.
        UniqueConstraint("red_packet_id", "kind", name="one_entry_per_packet_kind"),
        UniqueConstraint("shop_id", "kind", "idempotency_key", name="one_entry_per_key"),
        CheckConstraint("balance_after_fen >= 0", name="balance_after_not_negative"),
        Index("ix_red_packet_budget_entries_shop_created", "shop_id", "id"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # signed: debit < 0
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    red_packet_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("red_packets.id", ondelete="CASCADE"), default=None
    )
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RedPacket(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "red_packets"
    __table_args__ = (
        CheckConstraint("count >= 1", name="count_positive"),
        CheckConstraint("total_fen >= count", name="total_at_least_one_fen_each"),
        CheckConstraint("returned_fen >= 0", name="returned_not_negative"),
        UniqueConstraint("shop_id", "idempotency_key", name="one_packet_per_key"),
        Index("ix_red_packets_session_status", "shop_id", "live_session_id", "status", "id"),
    )

    live_session_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    greeting: Mapped[str] = mapped_column(String(40), default="")
    total_fen: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(8))  # lucky / equal
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    condition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PacketStatus.ACTIVE.value)
    # Set once, by the one close that wins (the remainder went back to the budget then).
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    returned_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)


class RedPacketShare(IdMixin, ShopScoped, Base):
    """One share of a packet, its amount fixed at creation; a grab sets its customer."""

    __tablename__ = "red_packet_shares"
    __table_args__ = (
        CheckConstraint("amount_fen >= 1", name="amount_at_least_one_fen"),
        # One grab per customer per packet (NULLs, the open shares, are distinct).
        UniqueConstraint("red_packet_id", "customer_id", name="one_grab_per_customer"),
        UniqueConstraint("red_packet_id", "seq", name="one_share_per_seq"),
        Index("ix_red_packet_shares_open", "red_packet_id", "state", "seq"),
    )

    red_packet_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("red_packets.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=ShareState.OPEN.value)
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), default=None
    )
    device_id: Mapped[str | None] = mapped_column(String(64), default=None)
    grabbed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    payout_provider: Mapped[str | None] = mapped_column(String(32), default=None)
    payout_reference: Mapped[str | None] = mapped_column(String(64), default=None)


class RedPacketWallet(ShopScoped, Base):
    """A customer's red-packet balance (红包余额) now; changed only by conditional UPDATEs."""

    __tablename__ = "red_packet_wallets"
    __table_args__ = (CheckConstraint("balance_fen >= 0", name="balance_not_negative"),)

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RedPacketBalanceEntry(IdMixin, ShopScoped, Base):
    """One movement of a customer's balance (append-only); the wallet is their sum."""

    __tablename__ = "red_packet_balance_entries"
    __table_args__ = (
        UniqueConstraint("share_id", name="one_credit_per_share"),
        CheckConstraint("balance_after_fen >= 0", name="balance_after_not_negative"),
        Index("ix_red_packet_balance_entries_customer", "shop_id", "customer_id", "id"),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # grab (credit) / spend (debit, later)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # signed
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    red_packet_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("red_packets.id", ondelete="SET NULL"), default=None
    )
    share_id: Mapped[int | None] = mapped_column(BigId, default=None)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
