"""Factories of the catalog domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.catalog.schemas import CategoryCreate, ProductCreate

__all__ = ["make_category", "make_product"]


async def make_category(
    session: AsyncSession,
    *,
    shop_id: int,
    name: str = "绿茶",
    parent_id: int | None = None,
    sort: int = 0,
) -> Any:
    return await catalog_service.create_category(
        session=session,
        shop_id=shop_id,
        data=CategoryCreate(name=name, parent_id=parent_id, sort=sort),
    )


async def make_product(
    session: AsyncSession,
    *,
    shop_id: int,
    name: str = "明前西湖龙井",
    skus: list[dict[str, Any]] | None = None,
    price_fen: int = 12900,
    stock: int = 100,
    status: str = "on_shelf",
    category_id: int | None = None,
    subtitle: str = "",
) -> Any:
    """A product; without `skus`, one SKU with `price_fen` and `stock`."""
    data = ProductCreate.model_validate(
        {
            "name": name,
            "subtitle": subtitle,
            "status": status,
            "category_id": category_id,
            "skus": skus or [{"price_fen": price_fen, "stock": stock}],
        }
    )
    return await catalog_service.create_product(session=session, shop_id=shop_id, data=data)
