"""Tables of saved segments (人群) and the frozen member lists of static segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow
from liveloop.events.models import Event

KIND_DYNAMIC = "dynamic"  # evaluated on demand from its filter
KIND_STATIC = "static"  # a frozen member list (snapshot of the filter when frozen)
KINDS = (KIND_DYNAMIC, KIND_STATIC)


class Segment(IdMixin, TimestampMixin, ShopScoped, Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # The filter as JSON (see customers.segments.filters and docs/segments.md).
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_DYNAMIC)
    # The last count and when it was taken (None: never counted).
    cached_count: Mapped[int | None] = mapped_column(Integer, default=None)
    counted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    frozen_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # static only
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(200), default=None)


class SegmentMember(ShopScoped, Base):
    """One customer of a static segment's frozen list."""

    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_customer", "customer_id"),)

    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    frozen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Behaviour conditions ("did X at least N times in the last D days") read events by shop, type
# and time and need only the customer: with customer_id in the key the scan is index-only
# (no heap visit per event). Declared here, by the reader that needs it; it has the same leading
# columns as ix_events_shop_type_time, which it could replace.
Index(
    "ix_events_shop_type_time_customer",
    Event.shop_id,
    Event.type,
    Event.occurred_at,
    Event.customer_id,
)
