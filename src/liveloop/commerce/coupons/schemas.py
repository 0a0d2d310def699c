"""API shapes of coupons and issued coupons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, model_validator

from liveloop.commerce.coupons.rules import CouponKind, CouponScope
from liveloop.core.schemas import OutModel, StrictModel

MAX_FEN = 10**10  # ¥100,000,000: far above any coupon, far below a BIGINT


def check_terms(data: Any) -> None:
    """Cross-field rules, shared by create and the merged result of an update."""
    kind = data.kind
    if kind in (CouponKind.AMOUNT_OFF, CouponKind.THRESHOLD) and not data.amount_off_fen:
        raise ValueError(f"a {kind.value} coupon needs amount_off_fen of at least 1")
    if kind == CouponKind.THRESHOLD:
        if not data.threshold_fen:
            raise ValueError("a threshold (满减) coupon needs threshold_fen of at least 1")
        if data.amount_off_fen > data.threshold_fen:
            raise ValueError(
                f"amount_off_fen ({data.amount_off_fen}) must not exceed threshold_fen "
                f"({data.threshold_fen})"
            )
    if kind == CouponKind.PERCENT_OFF and not 1 <= data.percent_off <= 99:
        raise ValueError("a percent_off coupon needs percent_off between 1 and 99")
    if data.scope == CouponScope.PRODUCTS and not data.product_ids:
        raise ValueError("a products-scoped coupon needs at least one product id")
    if data.scope == CouponScope.CATEGORIES and not data.category_ids:
        raise ValueError("a categories-scoped coupon needs at least one category id")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        raise ValueError("valid_until must be after valid_from")
    if data.valid_days is None and data.valid_until is None:
        raise ValueError("give valid_until (a window) or valid_days (days after the claim)")
    for name in ("valid_from", "valid_until"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} needs a time zone (e.g. 2026-11-23T20:00:00+08:00)")


class CouponCreate(StrictModel):
    title: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    kind: CouponKind
    amount_off_fen: int = Field(0, ge=0, le=MAX_FEN)
    percent_off: int = Field(0, ge=0, le=99, description="15 = 15% off (8.5折)")
    max_discount_fen: int | None = Field(None, ge=1, le=MAX_FEN, description="cap of a percent")
    threshold_fen: int = Field(0, ge=0, le=MAX_FEN, description="minimum order of eligible items")
    scope: CouponScope = CouponScope.ALL
    product_ids: list[int] = Field(default_factory=list, max_length=500)
    category_ids: list[int] = Field(default_factory=list, max_length=500)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    valid_days: int | None = Field(None, ge=1, le=3650, description="days after the claim")
    total_quantity: int = Field(ge=1, le=10_000_000)
    per_customer_limit: int = Field(1, ge=1, le=100)
    return_on_refund: bool = True
    status: str = Field("draft", pattern="^(draft|active)$")

    @model_validator(mode="after")
    def _terms(self) -> CouponCreate:
        check_terms(self)
        return self


class CouponUpdate(StrictModel):
    """Only the fields sent change. The kind and amounts can change only while nobody has
    claimed the coupon (a claimed coupon keeps the terms its holders were shown)."""

    title: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    kind: CouponKind | None = None
    amount_off_fen: int | None = Field(None, ge=0, le=MAX_FEN)
    percent_off: int | None = Field(None, ge=0, le=99)
    max_discount_fen: int | None = Field(None, ge=1, le=MAX_FEN)
    threshold_fen: int | None = Field(None, ge=0, le=MAX_FEN)
    scope: CouponScope | None = None
    product_ids: list[int] | None = Field(None, max_length=500)
    category_ids: list[int] | None = Field(None, max_length=500)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    valid_days: int | None = Field(None, ge=1, le=3650)
    total_quantity: int | None = Field(None, ge=1, le=10_000_000)
    per_customer_limit: int | None = Field(None, ge=1, le=100)
    return_on_refund: bool | None = None


class CouponStatusIn(StrictModel):
    status: str = Field(pattern="^(active|stopped)$")


class CouponOut(OutModel):
    id: int
    code: str
    title: str
    description: str
    kind: str
    amount_off_fen: int
    percent_off: int
    max_discount_fen: int | None
    threshold_fen: int
    scope: str
    product_ids: list[int]
    category_ids: list[int]
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    valid_days: int | None
    total_quantity: int
    claimed_count: int
    used_count: int
    remaining: int
    per_customer_limit: int
    return_on_refund: bool
    status: str
    value_text: str = ""
    claim_path: str = ""


class GrantIn(StrictModel):
    customer_id: int
    reason: str = Field("", max_length=200)


class PushIn(StrictModel):
    live_session_id: int


class CustomerCouponOut(OutModel):
    id: int
    coupon_id: int
    customer_id: int
    claim_seq: int
    status: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    source: str
    reason: str
    live_session_id: int | None
    order_id: int | None
    claimed_at: dt.datetime
    used_at: dt.datetime | None
    returned_at: dt.datetime | None


class CheckLineIn(StrictModel):
    sku_id: int
    quantity: int = Field(ge=1, le=99)


class CouponCheckIn(StrictModel):
    lines: list[CheckLineIn] = Field(min_length=1, max_length=100)
    shipping_fen: int = Field(0, ge=0, le=MAX_FEN)
    customer_coupon_id: int | None = None


class EvaluationOut(OutModel):
    applicable: bool
    discount_fen: int
    free_shipping: bool
    shipping_discount_fen: int
    eligible_sku_ids: list[int]
    reason_code: str | None
    reason: str | None
    reason_zh: str | None
    code: str
    coupon_id: int | None
    customer_coupon_id: int | None = None
