"""Checkout: check the lines a buyer asks for, price them, and pick or check the coupon.

`quote_lines` is what the drawer shows and what `orders.place_order` charges: the same
function, so a quote and the order placed from it agree to the fen.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import Product, ProductStatus, Sku
from liveloop.commerce.models import CommerceSettings
from liveloop.commerce.pricing import (
    DEFAULT_FREE_SHIPPING_THRESHOLD_FEN,
    DEFAULT_SHIPPING_FEE_FEN,
    MAX_QUANTITY,
    MIN_QUANTITY,
    PriceBreakdown,
    PricedLine,
    price_order,
    shipping_fee,
)
from liveloop.core.errors import InvalidInput, LiveLoopError, NotFound

MAX_LINES = 20
COUPONS_MODULE = "liveloop.commerce.coupons.service"


@dataclass(frozen=True)
class LineRequest:
    sku_id: int
    quantity: int


@dataclass
class CheckoutLine:
    """One checked line: the SKU and product as they are now, and the price charged."""

    sku: Sku
    product: Product
    quantity: int
    unit_price_fen: int
    discount_fen: int = 0

    @property
    def priced(self) -> PricedLine:
        return PricedLine(
            sku_id=self.sku.id,
            product_id=self.product.id,
            category_id=self.product.category_id,
            unit_price_fen=self.unit_price_fen,
            quantity=self.quantity,
        )

    @property
    def line_total_fen(self) -> int:
        return self.unit_price_fen * self.quantity

    @property
    def image_path(self) -> str:
        return self.product.images[0].path if self.product.images else ""


@dataclass
class Quote:
    lines: list[CheckoutLine]
    breakdown: PriceBreakdown
    customer_coupon_id: int | None = None
    coupon: Any | None = None  # commerce.coupons.rules.CouponEvaluation
    # The coupon asked for but not applicable: {"code", "message"} (the quote still prices).
    coupon_error: dict[str, Any] | None = None
    suggested: bool = False  # the coupon is the best one, chosen for the buyer
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShippingRule:
    fee_fen: int = DEFAULT_SHIPPING_FEE_FEN
    free_threshold_fen: int | None = DEFAULT_FREE_SHIPPING_THRESHOLD_FEN


def coupons_service() -> ModuleType | None:
    """commerce.coupons.service once it exists (imported late: it imports this package)."""
    try:
        if importlib.util.find_spec(COUPONS_MODULE) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(COUPONS_MODULE)


async def get_shipping_rule(*, session: AsyncSession, shop_id: int) -> ShippingRule:
    row = (
        await session.execute(select(CommerceSettings).where(CommerceSettings.shop_id == shop_id))
    ).scalar_one_or_none()
    if row is None:
        return ShippingRule()
    return ShippingRule(
        fee_fen=row.shipping_fee_fen, free_threshold_fen=row.free_shipping_threshold_fen
    )


async def set_shipping_rule(
    *, session: AsyncSession, shop_id: int, fee_fen: int, free_threshold_fen: int | None
) -> ShippingRule:
    if fee_fen < 0 or (free_threshold_fen is not None and free_threshold_fen < 0):
        raise InvalidInput("shipping amounts must not be negative", code="invalid_shipping")
    row = (
        await session.execute(select(CommerceSettings).where(CommerceSettings.shop_id == shop_id))
    ).scalar_one_or_none()
    if row is None:
        row = CommerceSettings(
            shop_id=shop_id,
            shipping_fee_fen=fee_fen,
            free_shipping_threshold_fen=free_threshold_fen,
        )
        session.add(row)
    row.shipping_fee_fen = fee_fen
    row.free_shipping_threshold_fen = free_threshold_fen
    await session.flush()
    return ShippingRule(fee_fen=fee_fen, free_threshold_fen=free_threshold_fen)


def check_line_requests(lines: Sequence[LineRequest]) -> list[LineRequest]:
    """Quantities within 1..99 and at most MAX_LINES SKUs; repeated SKUs merged (first
    position kept). Every bad line is listed in one error."""
    if not lines:
        raise InvalidInput(
            "the order has no items; choose at least one", code="empty_order", field="lines"
        )
    problems: list[dict[str, Any]] = [
        {
            "code": "invalid_quantity",
            "field": f"lines[{index}].quantity",
            "sku_id": line.sku_id,
            "message": f"quantity must be between {MIN_QUANTITY} and {MAX_QUANTITY} "
            f"(got {line.quantity})",
        }
        for index, line in enumerate(lines)
        if not MIN_QUANTITY <= line.quantity <= MAX_QUANTITY
    ]
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.sku_id] = merged.get(line.sku_id, 0) + line.quantity
    if not problems:
        problems = [
            {
                "code": "invalid_quantity",
                "field": "lines",
                "sku_id": sku_id,
                "message": f"SKU {sku_id} appears with {quantity} units in all; "
                f"at most {MAX_QUANTITY} per order",
            }
            for sku_id, quantity in merged.items()
            if quantity > MAX_QUANTITY
        ]
    if problems:
        raise InvalidInput(
            "; ".join(p["message"] for p in problems),
            code="invalid_quantity",
            field=problems[0]["field"],
            details=problems,
        )
    if len(merged) > MAX_LINES:
        raise InvalidInput(
            f"an order holds at most {MAX_LINES} different items (got {len(merged)})",
            code="too_many_lines",
            field="lines",
        )
    return [LineRequest(sku_id=sku_id, quantity=quantity) for sku_id, quantity in merged.items()]


async def load_checkout_lines(
    *,
    session: AsyncSession,
    shop_id: int,
    lines: Sequence[LineRequest],
    price_overrides: dict[int, int] | None = None,
) -> list[CheckoutLine]:
    """Check the lines and load their SKUs and products: every SKU of this shop (else 404
    listing them), active and on shelf (else one error listing them)."""
    wanted = check_line_requests(lines)
    skus = await catalog_service.get_skus(
        session=session, shop_id=shop_id, sku_ids=[line.sku_id for line in wanted]
    )
    missing = [line.sku_id for line in wanted if line.sku_id not in skus]
    if missing:
        raise NotFound(
            f"sku {', '.join(str(m) for m in missing)} was not found",
            code="sku_not_found",
            field="lines",
            details=[{"code": "sku_not_found", "sku_id": m} for m in missing],
        )
    products: dict[int, Product] = {}
    for sku in skus.values():
        if sku.product_id not in products:
            products[sku.product_id] = await catalog_service.get_product(
                session=session, shop_id=shop_id, product_id=sku.product_id
            )
    checked: list[CheckoutLine] = []
    unavailable: list[dict[str, Any]] = []
    for line in wanted:
        sku = skus[line.sku_id]
        product = products[sku.product_id]
        if not sku.is_active or product.status != ProductStatus.ON_SHELF.value:
            name = f"{product.name} {sku.spec_label}".strip()
            unavailable.append(
                {
                    "code": "sku_unavailable",
                    "sku_id": sku.id,
                    "message": f"{name} is no longer on sale",
                }
            )
            continue
        price = sku.price_fen
        if price_overrides and sku.id in price_overrides:
            price = price_overrides[sku.id]
            if price < 0:
                raise InvalidInput(f"price override for SKU {sku.id} is negative")
        checked.append(
            CheckoutLine(sku=sku, product=product, quantity=line.quantity, unit_price_fen=price)
        )
    if unavailable:
        raise InvalidInput(
            "; ".join(u["message"] for u in unavailable),
            code="sku_unavailable",
            field="lines",
            details=unavailable,
        )
    return checked


async def quote_lines(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_id: int | None,
    lines: Sequence[LineRequest],
    customer_coupon_id: int | None = None,
    suggest_coupon: bool = True,
    price_overrides: dict[int, int] | None = None,
    strict_coupon: bool = False,
) -> Quote:
    """Price the lines. With `customer_coupon_id` that coupon is checked (not applicable:
    `coupon_error`, or InvalidInput when `strict_coupon`); without it the best coupon of the
    customer is suggested when `suggest_coupon`."""
    checked = await load_checkout_lines(
        session=session, shop_id=shop_id, lines=lines, price_overrides=price_overrides
    )
    priced = [line.priced for line in checked]
    rule = await get_shipping_rule(session=session, shop_id=shop_id)
    items_fen = sum(p.total_fen for p in priced)
    base_shipping = shipping_fee(
        items_fen, fee_fen=rule.fee_fen, free_threshold_fen=rule.free_threshold_fen
    )
    quote = Quote(lines=checked, breakdown=price_order(priced, coupon=None, shipping_fen=0))
    coupons = coupons_service() if customer_id is not None else None
    if coupons is not None and customer_coupon_id is not None:
        try:
            quote.coupon = await coupons.check_customer_coupon(
                session=session,
                shop_id=shop_id,
                customer_id=customer_id,
                customer_coupon_id=customer_coupon_id,
                lines=priced,
                shipping_fen=base_shipping,
            )
            quote.customer_coupon_id = customer_coupon_id
        except LiveLoopError as error:
            if strict_coupon:
                raise
            quote.coupon_error = {"code": error.code, "message": error.message}
    elif customer_coupon_id is not None and strict_coupon:
        raise NotFound(
            f"customer coupon {customer_coupon_id} was not found",
            code="customer_coupon_not_found",
            field="customer_coupon_id",
        )
    elif coupons is not None and suggest_coupon:
        best, evaluation = await coupons.best_coupon_for(
            session=session,
            shop_id=shop_id,
            customer_id=customer_id,
            lines=priced,
            shipping_fen=base_shipping,
        )
        if best is not None and evaluation is not None and evaluation.applicable:
            quote.coupon, quote.customer_coupon_id, quote.suggested = evaluation, best.id, True
    quote.breakdown = price_order(priced, coupon=quote.coupon, shipping_fen=base_shipping)
    for line, discount in zip(checked, quote.breakdown.line_discounts, strict=True):
        line.discount_fen = discount
    return quote
