"""API shapes of group buy: campaigns, groups (members masked), opening and joining."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, model_validator

from liveloop.core.schemas import OutModel, StrictModel

MAX_GROUP_SIZE = 100
MAX_TIME_LIMIT_MINUTES = 7 * 24 * 60


class CampaignCreate(StrictModel):
    title: Annotated[str, Field(min_length=1, max_length=100)]
    sku_id: int
    group_price_fen: Annotated[int, Field(ge=0, le=10**10)]
    group_size: Annotated[int, Field(ge=2, le=MAX_GROUP_SIZE)]
    time_limit_minutes: Annotated[int, Field(ge=1, le=MAX_TIME_LIMIT_MINUTES)] = 24 * 60
    per_customer_limit: Annotated[int, Field(ge=1, le=99)] = 1
    live_session_id: int | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> CampaignCreate:
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-11-23T20:00:00+08:00")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CampaignUpdate(StrictModel):
    title: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    per_customer_limit: Annotated[int | None, Field(ge=1, le=99)] = None
    ends_at: dt.datetime | None = None


class CampaignOut(OutModel):
    id: int
    title: str
    product_id: int
    sku_id: int
    group_price_fen: int
    group_size: int
    time_limit_minutes: int
    per_customer_limit: int
    live_session_id: int | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    status: str
    created_at: dt.datetime


class MemberOut(OutModel):
    name: str
    is_leader: bool
    status: str
    quantity: int
    paid_at: dt.datetime | None


class StaffMemberOut(MemberOut):
    id: int
    customer_id: int
    order_id: int
    refund_id: int | None


class GroupOut(OutModel):
    id: int
    code: str
    campaign_id: int
    group_size: int
    seats_taken: int
    paid_count: int
    status: str
    simulated: bool
    expires_at: dt.datetime
    confirmed_at: dt.datetime | None
    failed_at: dt.datetime | None


class GroupView(GroupOut):
    """What a viewer sees on /group/{code}: no customer ids, names masked."""

    title: str
    product_id: int
    sku_id: int
    group_price_fen: int
    members: list[MemberOut]
    seats_left: int


class StaffGroupView(GroupOut):
    members: list[StaffMemberOut]


class OpenGroupIn(StrictModel):
    address_id: int | None = None
    quantity: Annotated[int, Field(ge=1, le=99)] = 1


class GroupPurchaseOut(OutModel):
    group: GroupView
    order_id: int
    order_number: str
    total_fen: int
    share_url: str


class GroupSettingsIn(StrictModel):
    simulate_group: bool


class GroupSettingsOut(OutModel):
    simulate_group: bool
