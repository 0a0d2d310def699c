"""Tables of RFM scores and lifecycle stages (one current row per customer, plus history)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin, utcnow

# Lifecycle stages, in the order a customer usually moves through them.
LIFECYCLE_STAGES: tuple[str, ...] = (
    "new",
    "active",
    "high_value",
    "at_risk",
    "churned",
    "recalled",
)


class CustomerRfm(ShopScoped, Base):
    """The latest RFM computation for one customer (replaced by each recompute)."""

    __tablename__ = "customer_rfm"
    __table_args__ = (Index("ix_customer_rfm_shop_segment", "shop_id", "segment"),)

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    recency_days: Mapped[int | None] = mapped_column(Integer, default=None)  # None: never bought
    frequency: Mapped[int] = mapped_column(Integer, default=0)  # paid orders in the window
    monetary_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # paid amount in the window
    r_score: Mapped[int] = mapped_column(SmallInteger, default=0)  # 1..5 (0: no purchase)
    f_score: Mapped[int] = mapped_column(SmallInteger, default=0)
    m_score: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Named segment key, e.g. "important_value" (重要价值客户), "at_risk", "hibernating".
    segment: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomerLifecycle(ShopScoped, Base):
    """The customer's current lifecycle stage."""

    __tablename__ = "customer_lifecycle"
    __table_args__ = (Index("ix_customer_lifecycle_shop_stage", "shop_id", "stage"),)

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(16))  # one of LIFECYCLE_STAGES
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LifecycleTransition(IdMixin, ShopScoped, Base):
    """Every change of stage, for stage-flow charts (append-only)."""

    __tablename__ = "lifecycle_transitions"
    __table_args__ = (Index("ix_lifecycle_transitions_shop_at", "shop_id", "transitioned_at"),)

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    from_stage: Mapped[str | None] = mapped_column(String(16), default=None)
    to_stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="")
    transitioned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RfmSettings(TimestampMixin, ShopScoped, Base):
    """A shop's RFM and lifecycle rules (one row per shop; defaults when it has none)."""

    __tablename__ = "rfm_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    window_days: Mapped[int] = mapped_column(Integer, default=365)
    scoring: Mapped[str] = mapped_column(String(16), default="quintiles")  # or "thresholds"
    # Four ascending cut points per score, read by rfm.scoring (used when scoring="thresholds"):
    # recency days (≤ r[0] → 5 … > r[3] → 1), paid orders and paid fen (≥ x[3] → 5 … < x[0] → 1).
    r_thresholds: Mapped[list[int]] = mapped_column(default=list)
    f_thresholds: Mapped[list[int]] = mapped_column(default=list)
    m_thresholds: Mapped[list[int]] = mapped_column(default=list)
    # Lifecycle rules, see rfm.lifecycle.LifecycleRules (missing keys take the defaults).
    lifecycle: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rfm_computed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    lifecycle_computed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Customers active since this moment are re-evaluated by the next incremental sweep.
    swept_at: Mapped[dt.datetime | None] = mapped_column(default=None)
