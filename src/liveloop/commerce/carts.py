"""Server-side carts: one per customer; add, change, remove SKUs; read with today's prices."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import ProductStatus
from liveloop.commerce.checkout import LineRequest, check_line_requests, load_checkout_lines
from liveloop.commerce.models import Cart, CartItem
from liveloop.commerce.pricing import MAX_QUANTITY
from liveloop.core.errors import InvalidInput, NotFound
from liveloop.events import service as events_service

MAX_CART_ITEMS = 50


@dataclass(frozen=True)
class CartRow:
    """A cart item as the buyer sees it now: today's price, whether it can still be bought."""

    sku_id: int
    product_id: int
    product_name: str
    sku_name: str
    image_url: str | None
    quantity: int
    price_fen: int
    price_fen_when_added: int
    available: bool
    stock: int

    @property
    def price_changed(self) -> bool:
        return self.price_fen != self.price_fen_when_added


async def get_cart(*, session: AsyncSession, shop_id: int, customer_id: int) -> Cart:
    """The customer's cart, created on first use (safe against two first uses at once)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    await session.execute(
        module.insert(Cart.__table__)
        .values(shop_id=shop_id, customer_id=customer_id)
        .on_conflict_do_nothing()
    )
    cart = (
        await session.execute(
            select(Cart)
            .where(Cart.shop_id == shop_id, Cart.customer_id == customer_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return cart


def _item(cart: Cart, sku_id: int) -> CartItem | None:
    return next((item for item in cart.items if item.sku_id == sku_id), None)


async def add_to_cart(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int,
    sku_id: int,
    quantity: int = 1,
    live_session_id: int | None = None,
) -> Cart:
    """Add units of a SKU on sale (added to what the cart already holds, at most 99)."""
    cart = await get_cart(session=session, shop_id=shop_id, customer_id=customer_id)
    existing = _item(cart, sku_id)
    total = quantity + (existing.quantity if existing else 0)
    if quantity < 1 or total > MAX_QUANTITY:
        raise InvalidInput(
            f"quantity must be between 1 and {MAX_QUANTITY} (the cart would hold {total})",
            code="invalid_quantity",
            field="quantity",
        )
    (line,) = await load_checkout_lines(
        session=session, shop_id=shop_id, lines=[LineRequest(sku_id=sku_id, quantity=total)]
    )
    if existing is None:
        if len(cart.items) >= MAX_CART_ITEMS:
            raise InvalidInput(
                f"a cart holds at most {MAX_CART_ITEMS} items; check out or remove some",
                code="cart_full",
            )
        cart.items.append(
            CartItem(
                shop_id=shop_id,
                sku_id=sku_id,
                quantity=total,
                price_fen_when_added=line.unit_price_fen,
                live_session_id=live_session_id,
            )
        )
    else:
        existing.quantity = total
        existing.price_fen_when_added = line.unit_price_fen
        existing.live_session_id = live_session_id or existing.live_session_id
    await session.flush()
    await events_service.ingest_events(
        session=session,
        shop_id=shop_id,
        items=[
            {
                "type": "add_to_cart",
                "customer_id": customer_id,
                "live_session_id": live_session_id,
                "product_id": line.product.id,
                "properties": {
                    "sku_id": sku_id,
                    "quantity": quantity,
                    "price_fen": line.unit_price_fen,
                },
            }
        ],
    )
    return cart


async def set_cart_quantity(
    *, session: AsyncSession, shop_id: int, customer_id: int, sku_id: int, quantity: int
) -> Cart:
    cart = await get_cart(session=session, shop_id=shop_id, customer_id=customer_id)
    item = _item(cart, sku_id)
    if item is None:
        raise NotFound(
            f"sku {sku_id} is not in the cart", code="cart_item_not_found", field="sku_id"
        )
    check_line_requests([LineRequest(sku_id=sku_id, quantity=quantity)])
    item.quantity = quantity
    await session.flush()
    return cart


async def remove_from_cart(
    *, session: AsyncSession, shop_id: int, customer_id: int, sku_ids: Iterable[int]
) -> None:
    """Remove SKUs from the cart (those not in it are ignored: checkout calls this too)."""
    cart = await get_cart(session=session, shop_id=shop_id, customer_id=customer_id)
    wanted = set(sku_ids)
    await session.execute(
        delete(CartItem).where(CartItem.cart_id == cart.id, CartItem.sku_id.in_(wanted))
    )
    await session.refresh(cart, attribute_names=["items"])


async def cart_rows(*, session: AsyncSession, cart: Cart) -> list[CartRow]:
    skus = await catalog_service.get_skus(
        session=session, shop_id=cart.shop_id, sku_ids=[item.sku_id for item in cart.items]
    )
    rows: list[CartRow] = []
    for item in cart.items:
        sku = skus.get(item.sku_id)
        if sku is None:
            continue
        product = await catalog_service.get_product(
            session=session, shop_id=cart.shop_id, product_id=sku.product_id
        )
        rows.append(
            CartRow(
                sku_id=sku.id,
                product_id=product.id,
                product_name=product.name,
                sku_name=sku.spec_label,
                image_url=product.images[0].url if product.images else None,
                quantity=item.quantity,
                price_fen=sku.price_fen,
                price_fen_when_added=item.price_fen_when_added,
                available=sku.is_active
                and product.status == ProductStatus.ON_SHELF.value
                and sku.stock >= item.quantity,
                stock=sku.stock,
            )
        )
    return rows
