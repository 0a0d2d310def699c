"""API shapes of flash sales."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from liveloop.commerce.schemas import AddressIn
from liveloop.core.schemas import OutModel, StrictModel

MAX_FLASH_QUANTITY = 1_000_000


class FlashSaleCreate(StrictModel):
    sku_id: int
    title: str = Field("", max_length=100, description="defaults to the product name")
    price_fen: int = Field(ge=1, le=10**10)
    quantity: int = Field(ge=1, le=MAX_FLASH_QUANTITY, description="carved out of SKU stock")
    per_customer_limit: int = Field(1, ge=1, le=99)
    starts_at: dt.datetime
    ends_at: dt.datetime
    live_session_id: int | None = None

    @model_validator(mode="after")
    def _times(self) -> FlashSaleCreate:
        for name in ("starts_at", "ends_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2026-11-23T20:00:00+08:00)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class FlashBuyIn(StrictModel):
    quantity: int = Field(1, ge=1, le=99)
    address_id: int | None = None
    address: AddressIn | None = Field(None, description="A new address (saved for the buyer)")


class FlashSaleOut(OutModel):
    id: int
    product_id: int
    sku_id: int
    live_session_id: int | None
    title: str
    price_fen: int
    original_price_fen: int
    quantity: int
    sold_count: int
    remaining: int
    per_customer_limit: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    state: str = ""
    returned_quantity: int
    finished_at: dt.datetime | None
