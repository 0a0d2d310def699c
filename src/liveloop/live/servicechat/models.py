"""Tables of in-room customer service: one conversation per customer per shop, its messages.

A conversation is opened from a live room (the session is remembered as where it was opened,
and every message carries the session it was written in); it stays the customer's one thread
with the shop's agents: closed by an agent when the matter is done, opened again when either
side writes or an agent reopens it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class ConversationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Sender(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class ServiceConversation(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "service_conversations"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id", name="uq_service_conversations_customer"),
        Index("ix_service_conversations_inbox", "shop_id", "status", "last_message_at"),
    )

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    # Where it was (last) opened from; the messages keep their own session.
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.OPEN.value)
    opened_at: Mapped[dt.datetime] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    last_message_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_preview: Mapped[str] = mapped_column(String(80), default="")
    last_sender: Mapped[str] = mapped_column(String(16), default="")
    # Unread counts, moved by conditional UPDATEs (a message adds one; reading sets them to
    # what is still unread after the message read up to).
    agent_unread: Mapped[int] = mapped_column(Integer, default=0)  # customer messages
    customer_unread: Mapped[int] = mapped_column(Integer, default=0)  # agent messages
    customer_read_up_to: Mapped[int] = mapped_column(BigId, default=0)  # message id
    agent_read_up_to: Mapped[int] = mapped_column(BigId, default=0)
    last_agent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )


class ServiceMessage(IdMixin, ShopScoped, Base):
    """One message, plain text. `client_id` (the viewer page's id for a send) makes a retried
    send land once."""

    __tablename__ = "service_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_id", name="uq_service_messages_client"),
        Index("ix_service_messages_conversation", "conversation_id", "id"),
        Index("ix_service_messages_rate", "shop_id", "conversation_id", "sender", "created_at"),
    )

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("service_conversations.id", ondelete="CASCADE")
    )
    sender: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), default=None
    )
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="SET NULL"), default=None
    )
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column()
