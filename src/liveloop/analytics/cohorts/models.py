"""Tables of analytics/cohorts: the costs a merchant enters, so ROI, ROAS and CAC can be computed."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from liveloop.core.database import Base, BigId, IdMixin, ShopScoped, TimestampMixin


class CostKind(StrEnum):
    ANCHOR_FEE = "anchor_fee"
    COUPONS = "coupons"
    ADS = "ads"
    COMMISSION = "commission"
    OTHER = "other"


class ValueCost(IdMixin, TimestampMixin, ShopScoped, Base):
    """One cost line, charged to a live session, a broadcast (its id only: the broadcasts table
    belongs to outreach), a KOL/affiliate and/or an acquisition channel (for CAC)."""

    __tablename__ = "analytics_value_costs"
    __table_args__ = (Index("ix_analytics_value_costs_shop_spent", "shop_id", "spent_on"),)

    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    spent_on: Mapped[dt.date] = mapped_column(Date)
    live_session_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("live_sessions.id", ondelete="CASCADE"), default=None, index=True
    )
    broadcast_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    affiliate_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("affiliates.id", ondelete="CASCADE"), default=None
    )
    channel: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str] = mapped_column(String(200), default="")
