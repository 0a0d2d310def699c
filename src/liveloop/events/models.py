"""Tables of the events domain: the append-only behaviour log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, utcnow

# The types LiveLoop itself emits and analyses; integrators may add their own (see TYPE_PATTERN).
KNOWN_TYPES: tuple[str, ...] = (
    "view",
    "product_view",
    "like",
    "comment",
    "share",
    "add_to_cart",
    "order",
    "pay",
    "join_group",
    "coupon_claim",
    "live_enter",
    "live_leave",
)
TYPE_PATTERN = r"^[a-z][a-z0-9_.]{1,63}$"


class Event(Base):
    """One thing a customer (or an anonymous visitor) did.

    This is LiveLoop's hottest insert path, so the table carries no foreign keys (they more
    than doubled the cost of a 1,000-row COPY on PostgreSQL) and is not `ShopScoped` (whose
    one-column shop_id index the composite indexes below already cover). Integrity comes from
    the one writer, `events.service.ingest_events`: shop_id is the caller's shop and every
    customer_id is checked against that shop in the same transaction. Customers are erased
    through `events.service.delete_customer_events`; deleting a product leaves its history.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("shop_id", "client_event_id"),
        Index("ix_events_shop_type_time", "shop_id", "type", "occurred_at"),
        Index(
            "ix_events_shop_customer_time",
            "shop_id",
            "customer_id",
            "occurred_at",
            postgresql_where=text("customer_id IS NOT NULL"),
            sqlite_where=text("customer_id IS NOT NULL"),
        ),
        # Who entered a live room before (the dashboard's returning viewers): enters only.
        Index(
            "ix_events_shop_enters",
            "shop_id",
            "customer_id",
            "anonymous_id",
            "occurred_at",
            postgresql_where=text("type = 'live_enter'"),
            sqlite_where=text("type = 'live_enter'"),
        ),
        Index(
            "ix_events_shop_session_time",
            "shop_id",
            "live_session_id",
            "occurred_at",
            postgresql_where=text("live_session_id IS NOT NULL"),
            sqlite_where=text("live_session_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(BigId, default=None)
    anonymous_id: Mapped[str | None] = mapped_column(String(64), default=None)
    live_session_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    product_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    client_event_id: Mapped[str | None] = mapped_column(String(64), default=None)
