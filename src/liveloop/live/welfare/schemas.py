"""API shapes of follow for welfare (关注送福利)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

MAX_POINTS = 1_000_000
MIN_DURATION_S = 60
MAX_DURATION_S = 6 * 3600
REWARD_FIELDS = {"coupon": "reward_coupon_id", "points": "reward_points"}


class OfferIn(BaseModel):
    """Put a welfare offer up in a live room: join `community_id`, get the reward."""

    model_config = ConfigDict(extra="forbid")

    community_id: int = Field(ge=1, le=2**63 - 1)
    popup_text: str = Field(min_length=1, max_length=100, examples=["加入VIP群领 ¥10 券"])
    title: str = Field("", max_length=100, description="Console label; defaults to popup_text")
    reward_kind: Literal["coupon", "points"]
    reward_name: str = Field("", max_length=100, description="Shown to viewers; from the reward")
    reward_coupon_id: int | None = Field(None, ge=1, le=2**63 - 1)
    reward_points: int | None = Field(None, ge=1, le=MAX_POINTS)
    new_members_only: bool = Field(
        True, description="Only customers who were never in the group before get the reward"
    )
    confirm_by: Literal["link", "channel"] = Field(
        "link",
        description="link: confirming the personal join link is the join; channel: the "
        "channel adapter confirms it (POST /api/v1/welfare-offers/{id}/confirmations)",
    )
    duration_seconds: int | None = Field(
        None, ge=MIN_DURATION_S, le=MAX_DURATION_S, description="None: until stopped"
    )

    @field_validator("popup_text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("write the pop-up text viewers see, e.g. 加入VIP群领 ¥10 券")
        return value.strip()

    @field_validator("reward_coupon_id", "reward_points")
    @classmethod
    def _reward_field_of_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("reward_kind")
        if REWARD_FIELDS.get(str(kind)) == info.field_name and not value:
            raise ValueError(f"a {kind} reward needs {info.field_name}")
        return value


class OfferFigures(BaseModel):
    shown: int = 0
    tapped: int = 0
    opened: int = 0
    joined: int = 0
    rewarded: int = 0
    conversion: float = Field(0.0, description="rewarded ÷ shown (0 when nobody saw it)")


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    live_session_id: int
    community_id: int
    title: str
    popup_text: str
    reward_kind: str
    reward_name: str
    reward_coupon_id: int | None
    reward_points: int
    new_members_only: bool
    confirm_by: str
    status: str
    started_at: dt.datetime
    ends_at: dt.datetime | None
    stopped_at: dt.datetime | None
    figures: OfferFigures = Field(default_factory=OfferFigures)


class ClaimOut(BaseModel):
    id: int
    customer_id: int | None
    name: str
    tapped_at: dt.datetime | None
    opened_at: dt.datetime | None
    joined_at: dt.datetime | None
    rewarded_at: dt.datetime | None
    outcome: str | None
    confirmed_via: str | None
    reward_note: str


class OfferDetailOut(OfferOut):
    community_name: str = ""
    claims: list[ClaimOut] = []


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)


class ChannelConfirmIn(BaseModel):
    """The channel adapter (a WeCom group bot, a mini-program) saw the customer join."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int | None = Field(None, ge=1, le=2**63 - 1)
    token: str | None = Field(None, min_length=1, max_length=200)
    joined_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _names_the_customer(self) -> ChannelConfirmIn:
        if (self.customer_id is None) == (self.token is None):
            raise ValueError("give customer_id or the viewer's token (one of them)")
        if self.joined_at is not None and self.joined_at.tzinfo is None:
            raise ValueError("joined_at needs a time zone, e.g. 2026-11-23T20:00:00+08:00")
        return self
