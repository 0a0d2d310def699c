"""API shapes of commerce core: addresses, cart, checkout quote, orders, console filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from liveloop.core.schemas import OutModel, StrictModel
from liveloop.customers.phone_codes.schemas import PhoneCodeValue


class AddressIn(StrictModel):
    recipient_name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=32, description="Mainland mobile number")
    region: str = Field(min_length=1, max_length=100, description="Province")
    city: str = Field(min_length=1, max_length=100)
    district: str = Field("", max_length=100)
    detail: str = Field(min_length=1, max_length=200, description="Street, building, room")
    is_default: bool = False
    phone_code: PhoneCodeValue | None = Field(
        None, description="The code texted to `phone`: needed when a guest orders (not saved)"
    )


class AddressOut(OutModel):
    id: int
    recipient_name: str
    phone_masked: str
    region: str
    city: str
    district: str
    detail: str
    is_default: bool


class LineIn(StrictModel):
    sku_id: int
    # Checked by the service (1..99) so every bad line is named in one error.
    quantity: int


class CartItemIn(StrictModel):
    sku_id: int
    quantity: int = 1
    live_session_id: int | None = None


class CartQuantityIn(StrictModel):
    quantity: int


class CartItemOut(OutModel):
    sku_id: int
    product_id: int
    product_name: str
    sku_name: str
    image_url: str | None
    quantity: int
    price_fen: int
    price_fen_when_added: int
    price_changed: bool
    available: bool
    stock: int


class CartOut(OutModel):
    items: list[CartItemOut]
    items_fen: int


class QuoteIn(StrictModel):
    lines: list[LineIn] = Field(max_length=50)
    customer_coupon_id: int | None = Field(None, description="Omit to get the best suggested")
    no_coupon: bool = Field(False, description="Price without any coupon")


class QuoteLineOut(OutModel):
    sku_id: int
    product_id: int
    product_name: str
    sku_name: str
    image_url: str | None
    unit_price_fen: int
    quantity: int
    line_total_fen: int
    discount_fen: int
    stock: int


class CouponChoiceOut(OutModel):
    customer_coupon_id: int
    title: str
    applicable: bool
    discount_fen: int
    free_shipping: bool
    reason_code: str | None = None
    reason: str | None = None


class QuoteOut(OutModel):
    lines: list[QuoteLineOut]
    items_fen: int
    discount_fen: int
    shipping_fen: int
    total_fen: int
    customer_coupon_id: int | None
    coupon_suggested: bool
    coupon_error: dict[str, Any] | None
    coupons: list[CouponChoiceOut]


class PlaceOrderIn(StrictModel):
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    address_id: int | None = None
    address: AddressIn | None = Field(None, description="A new address (saved for the buyer)")
    customer_coupon_id: int | None = None
    expected_total_fen: int | None = Field(None, description="The total the buyer saw")
    from_cart: bool = Field(False, description="Compare with cart prices; empty those lines")
    buyer_note: str = Field("", max_length=200)
    promo_code: str = Field(
        "", max_length=32, pattern=r"^[\w\-]*$", description="A KOL's promo code (attribution)"
    )


class OrderLineOut(OutModel):
    id: int
    sku_id: int | None
    product_id: int | None
    product_name: str
    sku_name: str
    sku_code: str
    unit_price_fen: int
    quantity: int
    line_total_fen: int
    discount_fen: int
    refunded_quantity: int


class OrderOut(OutModel):
    id: int
    number: str
    status: str
    kind: str
    customer_id: int | None
    items_total_fen: int
    discount_fen: int
    shipping_fen: int
    total_fen: int
    paid_fen: int
    refunded_fen: int
    customer_coupon_id: int | None
    live_session_id: int | None
    source_code: str
    share_code: str
    recipient_name: str
    recipient_phone_masked: str
    address_region: str
    buyer_note: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    carrier: str
    tracking_number: str
    completed_at: dt.datetime | None
    closed_at: dt.datetime | None
    close_reason: str
    lines: list[OrderLineOut]


class HistoryOut(OutModel):
    from_status: str | None
    to_status: str
    actor_label: str
    note: str
    created_at: dt.datetime


class OrderDetailOut(OrderOut):
    history: list[HistoryOut] = Field(default_factory=list)


class PlacedOrderOut(OutModel):
    order: OrderOut
    viewer_token: str | None = Field(
        None, description="A new token for the buyer when a guest became a customer"
    )


class ShipIn(StrictModel):
    carrier: str = Field(min_length=1, max_length=50)
    tracking_number: str = Field(min_length=1, max_length=64)


class CancelIn(StrictModel):
    reason: str = Field("", max_length=200)


class ShippingRuleIn(StrictModel):
    shipping_fee_fen: int = Field(ge=0, le=10**7)
    free_shipping_threshold_fen: int | None = Field(None, ge=0, le=10**9)


class ShippingRuleOut(OutModel):
    shipping_fee_fen: int
    free_shipping_threshold_fen: int | None
