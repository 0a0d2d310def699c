"""API shapes of referral fission: campaigns, participants' progress, invites, rewards, stats."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from liveloop.core.schemas import OutModel, StrictModel

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#c0392b"


class PosterSettings(StrictModel):
    color: str = DEFAULT_COLOR
    headline: Annotated[str, Field(max_length=60)] = ""
    subtitle: Annotated[str, Field(max_length=120)] = ""

    @field_validator("color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not COLOR.match(value):
            raise ValueError("poster colour must look like #c0392b")
        return value.lower()


class CampaignFields(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=2000)] = ""
    goal: Literal["join", "buy"] = "join"
    invitees_needed: Annotated[int, Field(ge=1, le=1000)]
    reward_kind: Literal["coupon", "points", "product"]
    reward_coupon_id: int | None = None
    reward_points: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    reward_product_id: int | None = None
    reward_title: Annotated[str, Field(max_length=100)] = ""
    reward_stock: Annotated[int | None, Field(ge=0, le=10_000_000)] = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    community_id: int | None = None
    poster: PosterSettings = Field(default_factory=PosterSettings)
    status: Literal["draft", "active", "ended"] = "active"

    @model_validator(mode="after")
    def _check(self) -> CampaignFields:
        needs = {"coupon": "reward_coupon_id", "points": "reward_points"}
        needs["product"] = "reward_product_id"
        if getattr(self, needs[self.reward_kind]) is None:
            raise ValueError(f"a {self.reward_kind} reward needs {needs[self.reward_kind]}")
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-11-23T20:00:00+08:00")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CampaignCreate(CampaignFields):
    pass


class CampaignUpdate(CampaignFields):
    """A full replacement of the editable fields (the console's edit form sends them all)."""


class CampaignOut(OutModel):
    id: int
    code: str
    name: str
    description: str
    goal: str
    invitees_needed: int
    reward_kind: str
    reward_coupon_id: int | None
    reward_points: int | None
    reward_product_id: int | None
    reward_title: str
    reward_stock: int | None
    rewards_given: int
    stock_left: int | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    community_id: int | None
    poster: dict[str, Any]
    status: str
    created_at: dt.datetime


class ParticipantOut(OutModel):
    id: int
    campaign_id: int
    customer_id: int
    code: str
    display_name: str
    link_opens: int
    invitee_count: int
    counted_count: int
    reached_at: dt.datetime | None
    created_at: dt.datetime


class InviteOut(OutModel):
    id: int
    campaign_id: int
    participant_id: int
    inviter_customer_id: int
    invitee_customer_id: int
    device_id: str
    invitee_was_new: bool
    status: str
    reason: str | None
    order_id: int | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class RewardOut(OutModel):
    id: int
    campaign_id: int
    participant_id: int
    customer_id: int
    kind: str
    status: str
    customer_coupon_id: int | None
    points: int | None
    product_id: int | None
    address_id: int | None
    address: dict[str, Any]
    note: str
    created_at: dt.datetime
    shipped_at: dt.datetime | None


class LeaderOut(OutModel):
    rank: int
    participant_id: int
    customer_id: int
    display_name: str
    counted: int
    invitees: int


class StatsOut(OutModel):
    participants: int
    link_opens: int
    invitees: int
    counted: int
    pending: int
    rejected: int
    rewarded: int
    invites_per_participant: float
    conversion_rate: float
    k_factor: float
    rejected_by_reason: dict[str, int]


class MyProgressOut(OutModel):
    """What a participant sees: their link, poster and progress."""

    campaign: CampaignOut
    code: str
    link_path: str
    poster_png: str
    poster_svg: str
    invitees_needed: int
    counted: int
    pending: int
    reward_status: str | None
    viewer_token: str | None = None
