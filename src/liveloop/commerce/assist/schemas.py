"""API shapes of assist: campaigns, an assist's progress, a help's outcome, the abuse list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from liveloop.core.schemas import OutModel, StrictModel


class AssistCampaignCreate(StrictModel):
    title: Annotated[str, Field(min_length=1, max_length=100)]
    reward_kind: Literal["price_cut", "coupon"]
    sku_id: int | None = None
    target_price_fen: Annotated[int | None, Field(ge=0, le=10**10)] = None
    coupon_id: int | None = None
    helpers_needed: Annotated[int, Field(ge=1, le=200)]
    time_limit_minutes: Annotated[int, Field(ge=1, le=30 * 24 * 60)] = 24 * 60
    new_customers_only: bool = False
    max_helps: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _reward(self) -> AssistCampaignCreate:
        if self.reward_kind == "price_cut" and (
            self.sku_id is None or self.target_price_fen is None
        ):
            raise ValueError("a price cut needs sku_id and target_price_fen")
        if self.reward_kind == "coupon" and self.coupon_id is None:
            raise ValueError("a coupon reward needs coupon_id")
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-11-23T20:00:00+08:00")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AssistCampaignOut(OutModel):
    id: int
    title: str
    reward_kind: str
    product_id: int | None
    sku_id: int | None
    target_price_fen: int | None
    coupon_id: int | None
    helpers_needed: int
    time_limit_minutes: int
    new_customers_only: bool
    max_helps: int | None
    helps_used: int
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    status: str
    created_at: dt.datetime


class HelperOut(OutModel):
    name: str
    cut_fen: int
    at: dt.datetime


class AssistView(OutModel):
    code: str
    campaign_id: int
    title: str
    reward_kind: str
    owner_name: str
    helpers_needed: int
    helpers_count: int
    start_price_fen: int | None
    target_price_fen: int | None
    current_price_fen: int | None
    status: str
    expires_at: dt.datetime
    completed_at: dt.datetime | None
    rewarded: bool
    order_id: int | None
    helpers: list[HelperOut]


class StaffAssistOut(OutModel):
    id: int
    code: str
    campaign_id: int
    customer_id: int
    helpers_needed: int
    helpers_count: int
    status: str
    expires_at: dt.datetime
    completed_at: dt.datetime | None
    reward_granted_at: dt.datetime | None
    customer_coupon_id: int | None
    order_id: int | None


class HelpOutcomeOut(OutModel):
    accepted: bool
    code: str
    message: str
    cut_fen: int
    assist: AssistView


class RefusalOut(OutModel):
    id: int
    campaign_id: int
    assist_id: int
    helper_customer_id: int | None
    device_id: str
    reason: str
    created_at: dt.datetime


class RedeemIn(StrictModel):
    address_id: int | None = None
