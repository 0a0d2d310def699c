"""A live session's product line-up: its order, and products as a room shows them (cards with
price and live stock per SKU)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import Product, ProductStatus
from liveloop.core.database import scoped
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.live.models import LiveSession, LiveSessionProduct
from liveloop.live.schemas import MAX_LINEUP


async def lineup_ids(*, session: AsyncSession, live_session: LiveSession) -> list[int]:
    rows = await session.execute(
        scoped(LiveSessionProduct, live_session.shop_id, LiveSessionProduct.product_id)
        .where(LiveSessionProduct.live_session_id == live_session.id)
        .order_by(LiveSessionProduct.position, LiveSessionProduct.id)
    )
    return [row.product_id for row in rows]


async def lineup_ids_of(
    *, session: AsyncSession, shop_id: int, live_session_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The line-ups of several sessions in one query (lists of sessions)."""
    found: dict[int, list[int]] = {session_id: [] for session_id in live_session_ids}
    if not found:
        return found
    rows = await session.execute(
        scoped(
            LiveSessionProduct,
            shop_id,
            LiveSessionProduct.live_session_id,
            LiveSessionProduct.product_id,
        )
        .where(LiveSessionProduct.live_session_id.in_(list(found)))
        .order_by(LiveSessionProduct.position, LiveSessionProduct.id)
    )
    for row in rows:
        found[row.live_session_id].append(row.product_id)
    return found


async def get_lineup(*, session: AsyncSession, live_session: LiveSession) -> list[Product]:
    """The line-up's products in order (a product deleted since is left out), loaded together:
    the public room info and every room opening read it."""
    ids = await lineup_ids(session=session, live_session=live_session)
    found = await catalog_service.get_products(
        session=session, shop_id=live_session.shop_id, product_ids=ids
    )
    return [found[product_id] for product_id in ids if product_id in found]


def _sku_name(specs: dict[str, Any], code: str) -> str:
    return " / ".join(str(v) for v in specs.values()) if specs else code


def product_card(product: Product) -> dict[str, Any]:
    """A product as a room shows it (product_push, line-up): price and live stock per SKU."""
    skus = product.active_skus
    return {
        "id": product.id,
        "name": product.name,
        "subtitle": product.subtitle,
        "image_url": product.images[0].url if product.images else None,
        "price_fen": product.price_min_fen,
        "price_min_fen": product.price_min_fen,
        "price_max_fen": product.price_max_fen,
        "stock": product.total_stock,
        "on_shelf": product.status == ProductStatus.ON_SHELF.value,
        "skus": [
            {
                "id": sku.id,
                "name": _sku_name(sku.specs, sku.code),
                "price_fen": sku.price_fen,
                "stock": sku.stock,
            }
            for sku in skus
        ],
    }


async def pushed_card(session: AsyncSession, live_session: LiveSession) -> dict[str, Any] | None:
    if live_session.pushed_product_id is None:
        return None
    try:
        product = await catalog_service.get_product(
            session=session,
            shop_id=live_session.shop_id,
            product_id=live_session.pushed_product_id,
        )
    except NotFound:
        return None
    return product_card(product)


async def check_products(
    session: AsyncSession, *, shop_id: int, product_ids: Sequence[int], field: str
) -> list[int]:
    ordered = list(dict.fromkeys(product_ids))  # repeated ids keep their first place
    if len(ordered) > MAX_LINEUP:
        raise InvalidInput(
            f"a line-up holds at most {MAX_LINEUP} products (got {len(ordered)})",
            code="lineup_too_long",
            field=field,
        )
    names = await catalog_service.get_product_names(
        session=session, shop_id=shop_id, product_ids=ordered
    )
    missing = [pid for pid in ordered if pid not in names]
    if missing:
        listed = ", ".join(str(pid) for pid in missing)
        raise InvalidInput(
            f"product {listed} {'was' if len(missing) == 1 else 'were'} not found in this shop",
            code="product_not_found",
            field=field,
        )
    return ordered


async def replace_lineup(
    session: AsyncSession, live_session: LiveSession, product_ids: list[int]
) -> None:
    await session.execute(
        delete(LiveSessionProduct).where(
            LiveSessionProduct.shop_id == live_session.shop_id,
            LiveSessionProduct.live_session_id == live_session.id,
        )
    )
    session.add_all(
        LiveSessionProduct(
            shop_id=live_session.shop_id,
            live_session_id=live_session.id,
            product_id=product_id,
            position=position,
        )
        for position, product_id in enumerate(product_ids)
    )
    await session.flush()
