"""API shapes of affiliates: profiles, codes, product rates, settings, commission rows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from liveloop.core.schemas import OutModel, StrictModel

RateBp = Annotated[int, Field(ge=0, le=10_000, description="basis points: 1000 = 10 %")]
CodeText = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class AffiliateCreate(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["kol", "koc"] = "kol"
    staff_id: int | None = None
    customer_id: int | None = None
    default_rate_bp: RateBp = 0

    @model_validator(mode="after")
    def _one_person(self) -> AffiliateCreate:
        if self.staff_id is not None and self.customer_id is not None:
            raise ValueError("an affiliate is a staff member or a customer, not both")
        return self


class AffiliateUpdate(StrictModel):
    name: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    default_rate_bp: RateBp | None = None
    is_active: bool | None = None


class AffiliateOut(OutModel):
    id: int
    name: str
    kind: str
    staff_id: int | None
    customer_id: int | None
    default_rate_bp: int
    is_active: bool
    created_at: dt.datetime


class CodeCreate(StrictModel):
    code: CodeText
    kind: Literal["promo", "share", "source"] = "promo"
    live_session_id: int | None = None


class CodeOut(OutModel):
    id: int
    affiliate_id: int
    code: str
    kind: str
    live_session_id: int | None


class ProductRateIn(StrictModel):
    product_id: int
    rate_bp: RateBp


class ProductRateOut(OutModel):
    affiliate_id: int
    product_id: int
    rate_bp: int


class AffiliateSettingsIn(StrictModel):
    return_window_days: Annotated[int, Field(ge=0, le=365)]
    ship_settle_days: Annotated[int, Field(ge=0, le=365)]


class AffiliateSettingsOut(OutModel):
    return_window_days: int
    ship_settle_days: int


class AffiliateOrderOut(OutModel):
    order_id: int
    order_number: str
    code: str
    matched_by: str
    gmv_fen: int
    order_status: str
    created_at: dt.datetime


class CommissionOut(OutModel):
    id: int
    affiliate_id: int
    order_id: int
    order_line_id: int
    product_id: int | None
    base_fen: int
    rate_bp: int
    amount_fen: int
    refunded_base_fen: int
    reversed_fen: int
    owed_fen: int
    status: str
    settle_after: dt.datetime | None
    settled_at: dt.datetime | None


class AffiliateSummary(OutModel):
    affiliate: AffiliateOut
    orders: int
    gmv_fen: int
    pending_fen: int
    settled_fen: int
    reversed_fen: int
