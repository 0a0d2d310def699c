"""API shapes of lotteries."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from liveloop.live.conditions import EntryCondition

MIN_DURATION_S = 10
MAX_DURATION_S = 3600
MAX_WINNERS = 100
MAX_POINTS = 1_000_000
# The field each kind of prize needs.
PRIZE_FIELDS = {
    "coupon": "prize_coupon_id",
    "product": "prize_product_id",
    "points": "prize_points",
    "custom": "prize_name",
}


class LotteryIn(BaseModel):
    """Start a lottery in a live room: it takes entries for `duration_seconds`, then draws."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100, examples=["整点福袋"])
    prize_kind: Literal["coupon", "points", "product", "custom"]
    prize_name: str = Field(
        "", max_length=100, description="Shown to viewers; defaults from the prize"
    )
    prize_coupon_id: int | None = Field(None, ge=1, le=2**63 - 1)
    prize_product_id: int | None = Field(None, ge=1, le=2**63 - 1)
    prize_points: int | None = Field(None, ge=1, le=MAX_POINTS)
    winner_count: int = Field(ge=1, le=MAX_WINNERS)
    duration_seconds: int = Field(ge=MIN_DURATION_S, le=MAX_DURATION_S)
    condition: EntryCondition = Field(default_factory=EntryCondition)
    exclude_banned: bool = True
    exclude_winners_today: bool = True
    exclude_staff: bool = True

    @field_validator("prize_name", "prize_coupon_id", "prize_product_id", "prize_points")
    @classmethod
    def _prize_field_of_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("prize_kind")
        if PRIZE_FIELDS.get(str(kind)) == info.field_name and not (
            value.strip() if isinstance(value, str) else value
        ):
            raise ValueError(f"a {kind} prize needs {info.field_name}")
        return value


class LotteryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    live_session_id: int
    title: str
    prize_kind: str
    prize_name: str
    prize_coupon_id: int | None
    prize_product_id: int | None
    prize_points: int
    winner_count: int
    condition: dict[str, Any]
    exclude_banned: bool
    exclude_winners_today: bool
    exclude_staff: bool
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    drawn_at: dt.datetime | None
    seed_hash: str
    seed: str | None = Field(None, validation_alias="published_seed")
    entrant_count: int
    entrants_hash: str
    winner_tickets: list[str]


class EntryOut(BaseModel):
    id: int
    customer_id: int
    name: str
    ticket: str
    position: int | None
    rank: int | None
    prize_status: str | None
    prize_note: str
    address: str | None = None
    won_at: dt.datetime | None
    shipped_at: dt.datetime | None


class LotteryDetailOut(LotteryOut):
    entries: list[EntryOut] = []


class PrizeAddressIn(BaseModel):
    """Where a product prize goes (a custom prize: how to reach the winner)."""

    model_config = ConfigDict(extra="forbid")

    recipient_name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=32)
    region: str = Field(min_length=1, max_length=100)
    city: str = Field(min_length=1, max_length=100)
    district: str = Field("", max_length=100)
    detail: str = Field(min_length=1, max_length=200)


class ShippedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=200, description="e.g. the carrier and tracking number")
