"""API shapes of categories, products, SKUs, images and stock."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from liveloop.catalog.models import MAX_STOCK, ProductStatus
from liveloop.core.schemas import OutModel, SortOrder, StrictModel

SpecName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
SpecValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
SkuCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\s]+$"),
]

MAX_SKUS_PER_PRODUCT = 200


class CategoryCreate(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    parent_id: int | None = None
    sort: SortOrder = 0


class CategoryUpdate(StrictModel):
    """Only the fields sent change; `"parent_id": null` moves the category to the top."""

    name: str | None = Field(None, min_length=1, max_length=100)
    parent_id: int | None = None
    sort: SortOrder | None = None


class CategoryOut(OutModel):
    id: int
    parent_id: int | None
    name: str
    sort: int


class SkuCreate(StrictModel):
    code: SkuCode | None = Field(None, description="Unique in the shop; generated when omitted.")
    specs: dict[SpecName, SpecValue] = Field(default_factory=dict, max_length=10)
    price_fen: int = Field(ge=0, le=10**11)
    list_price_fen: int | None = Field(None, ge=0, le=10**11, description="≥ price_fen")
    stock: int = Field(0, ge=0, le=MAX_STOCK)
    is_active: bool = True


class SkuUpdate(StrictModel):
    """Stock is not here on purpose: it changes only through the stock endpoint."""

    code: SkuCode | None = None
    specs: dict[SpecName, SpecValue] | None = Field(None, max_length=10)
    price_fen: int | None = Field(None, ge=0, le=10**11)
    list_price_fen: int | None = Field(None, ge=0, le=10**11)
    is_active: bool | None = None


class SkuOut(OutModel):
    id: int
    product_id: int
    code: str
    specs: dict[str, Any]
    price_fen: int
    list_price_fen: int | None
    stock: int
    sold_count: int
    is_active: bool


class ImageOut(OutModel):
    id: int
    url: str
    content_type: str
    size_bytes: int
    sort: int


class ImageOrder(StrictModel):
    image_ids: list[int] = Field(description="Every image id of the product, in the new order.")


class ProductCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    subtitle: str = Field("", max_length=200)
    description: str = Field("", max_length=20_000)
    category_id: int | None = None
    status: ProductStatus = ProductStatus.ON_SHELF
    skus: list[SkuCreate] = Field(min_length=1, max_length=MAX_SKUS_PER_PRODUCT)


class ProductUpdate(StrictModel):
    """Only the fields sent change; `"category_id": null` takes the product out of its category."""

    name: str | None = Field(None, min_length=1, max_length=200)
    subtitle: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=20_000)
    category_id: int | None = None


class ProductOut(OutModel):
    id: int
    name: str
    subtitle: str
    description: str
    category_id: int | None
    status: ProductStatus
    price_min_fen: int | None = Field(description="Lowest price among active SKUs.")
    price_max_fen: int | None
    total_stock: int
    images: list[ImageOut]
    skus: list[SkuOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class StockAdjust(StrictModel):
    delta: int = Field(
        ge=-MAX_STOCK, le=MAX_STOCK, description="Positive adds stock, negative removes."
    )
    reason: str = Field(min_length=1, max_length=64)


class StockMovementOut(OutModel):
    id: int
    sku_id: int
    delta: int
    stock_after: int
    reason: str
    actor_label: str | None
    created_at: dt.datetime
