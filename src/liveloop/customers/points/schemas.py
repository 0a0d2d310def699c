"""API shapes of points, earn rules, tiers and the redemption catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator

from liveloop.core.schemas import OutModel, SortOrder, StrictModel

MAX_POINTS = 10**9
RuleType = Literal["check_in", "comment", "share", "watch_minutes", "purchase", "review"]


class EntryOut(OutModel):
    id: int
    delta: int
    balance_after: int
    reason: str
    ref_type: str | None
    ref_id: int | None
    expires_at: dt.datetime | None
    created_at: dt.datetime
    created_by: str | None


class TierBrief(OutModel):
    id: int
    name: str
    level: int


class PointsOut(StrictModel):
    customer_id: int
    balance: int
    lifetime_earned: int
    tier: TierBrief | None
    benefits: dict[str, Any] = Field(default_factory=dict)
    entries: list[EntryOut]


class AdjustIn(StrictModel):
    delta: int = Field(ge=-MAX_POINTS, le=MAX_POINTS, description="+ adds, - removes; not 0")
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("delta must not be 0")
        return value


class SettingsIn(StrictModel):
    expiry_mode: Literal["end_of_following_year", "days", "never"] | None = None
    expiry_days: int | None = Field(None, ge=1, le=3650)
    tier_basis: Literal["points_lifetime", "points_window", "spend_window"] | None = None
    tier_window_days: int | None = Field(None, ge=1, le=3650)
    downgrade_grace_days: int | None = Field(None, ge=0, le=3650)


class SettingsOut(OutModel):
    expiry_mode: str
    expiry_days: int
    tier_basis: str
    tier_window_days: int
    downgrade_grace_days: int


class RuleIn(StrictModel):
    event_type: RuleType
    points: int = Field(ge=1, le=100_000, description="per event; per minute; per ¥1 paid")
    daily_cap: int | None = Field(None, ge=1, le=MAX_POINTS)
    is_active: bool = True


class RuleUpdate(StrictModel):
    points: int | None = Field(None, ge=1, le=100_000)
    daily_cap: int | None = Field(None, ge=1, le=MAX_POINTS)
    is_active: bool | None = None


class RuleOut(OutModel):
    id: int
    event_type: str
    points: int
    daily_cap: int | None
    is_active: bool


class Benefits(StrictModel):
    coupon_ids: list[int] = Field(default_factory=list, max_length=20)
    member_discount_percent: int | None = Field(
        None, ge=50, le=99, description="95 = members pay 95% (stored; not applied at checkout)"
    )
    priority_service: bool = False
    vip_sessions: bool = False


class TierIn(StrictModel):
    name: str = Field(min_length=1, max_length=50)
    level: int = Field(ge=1, le=100)
    min_points: int | None = Field(None, ge=0, le=10**12)
    min_spend_fen: int | None = Field(None, ge=0, le=10**12)
    benefits: Benefits = Field(default_factory=Benefits)


class TierUpdate(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=50)
    level: int | None = Field(None, ge=1, le=100)
    min_points: int | None = Field(None, ge=0, le=10**12)
    min_spend_fen: int | None = Field(None, ge=0, le=10**12)
    benefits: Benefits | None = None


class TierOut(OutModel):
    id: int
    name: str
    level: int
    min_points: int | None
    min_spend_fen: int | None
    benefits: dict[str, Any]
    members: int = 0


class TierChangeOut(OutModel):
    id: int
    customer_id: int
    from_level: int
    to_level: int
    reason: str
    changed_at: dt.datetime


class ItemIn(StrictModel):
    title: str = Field(min_length=1, max_length=100)
    coupon_id: int = Field(ge=1)
    points_price: int = Field(ge=1, le=MAX_POINTS)
    stock: int | None = Field(None, ge=0, le=10_000_000)
    is_active: bool = True
    position: SortOrder = 0


class ItemUpdate(StrictModel):
    title: str | None = Field(None, min_length=1, max_length=100)
    coupon_id: int | None = Field(None, ge=1)
    points_price: int | None = Field(None, ge=1, le=MAX_POINTS)
    stock: int | None = Field(None, ge=0, le=10_000_000)
    is_active: bool | None = None
    position: SortOrder | None = None


class ItemOut(OutModel):
    id: int
    title: str
    coupon_id: int
    points_price: int
    stock: int | None
    redeemed_count: int
    is_active: bool
    position: int


class RedeemIn(StrictModel):
    item_id: int = Field(ge=1)


class RedemptionOut(OutModel):
    id: int
    item_id: int
    points: int
    customer_coupon_id: int | None
    created_at: dt.datetime


class MismatchOut(StrictModel):
    customer_id: int
    balance: int
    ledger_sum: int
