"""Pure price calculation: items, coupon discount split over lines, shipping, total (all fen).

Nothing here reads the database or the clock: checkout quotes, place_order and refunds all
call the same functions, so the quote a viewer saw is the order they get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Quantity limits for one order line (a typo of 1000 should not reserve a warehouse).
MIN_QUANTITY = 1
MAX_QUANTITY = 99

DEFAULT_SHIPPING_FEE_FEN = 1000  # ¥10.00
DEFAULT_FREE_SHIPPING_THRESHOLD_FEN = 9900  # free from ¥99.00 of items


@dataclass(frozen=True)
class PricedLine:
    sku_id: int
    product_id: int
    category_id: int | None
    unit_price_fen: int
    quantity: int

    @property
    def total_fen(self) -> int:
        return self.unit_price_fen * self.quantity


class CouponEffect(Protocol):
    """What pricing needs of a coupon evaluation (commerce.coupons.rules.CouponEvaluation)."""

    applicable: bool
    discount_fen: int
    free_shipping: bool


@dataclass(frozen=True)
class PriceBreakdown:
    items_fen: int
    discount_fen: int
    shipping_fen: int
    total_fen: int
    # One discount per input line, in the same order; they sum to discount_fen exactly.
    line_discounts: tuple[int, ...]


def shipping_fee(items_fen: int, *, fee_fen: int, free_threshold_fen: int | None) -> int:
    """Flat fee, free once the items reach the threshold (None: never free)."""
    if items_fen <= 0:
        return 0
    if free_threshold_fen is not None and items_fen >= free_threshold_fen:
        return 0
    return fee_fen


def split_largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` fen over `weights` proportionally, in whole fen that sum to `amount`.

    Each share is floor(amount × w / W); the fen left over go one each to the largest
    remainders (ties: the earlier line), so no share exceeds its exact value by a whole fen.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    total = sum(weights)
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    if amount == 0 or total == 0:
        if amount and not total:
            raise ValueError("cannot split a positive amount over zero weights")
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for index in order[:left]:
        shares[index] += 1
    return shares


def _eligible(line: PricedLine, coupon: CouponEffect) -> bool:
    sku_ids = getattr(coupon, "eligible_sku_ids", None)
    return sku_ids is None or line.sku_id in sku_ids


def price_order(
    lines: Sequence[PricedLine], *, coupon: CouponEffect | None, shipping_fen: int
) -> PriceBreakdown:
    """The order's price. The coupon's discount is capped at the eligible items and split over
    them; a free-shipping coupon zeroes the shipping. The total never goes below zero."""
    for line in lines:
        if line.quantity < 1 or line.unit_price_fen < 0:
            raise ValueError(f"bad line for SKU {line.sku_id}")
    items_fen = sum(line.total_fen for line in lines)
    line_discounts = [0] * len(lines)
    discount = 0
    if coupon is not None and coupon.applicable:
        eligible = [i for i, line in enumerate(lines) if _eligible(line, coupon)]
        eligible_fen = sum(lines[i].total_fen for i in eligible)
        discount = max(0, min(coupon.discount_fen, eligible_fen))
        shares = split_largest_remainder(discount, [lines[i].total_fen for i in eligible])
        for index, share in zip(eligible, shares, strict=True):
            line_discounts[index] = share
        if coupon.free_shipping:
            shipping_fen = 0
    return PriceBreakdown(
        items_fen=items_fen,
        discount_fen=discount,
        shipping_fen=shipping_fen,
        total_fen=items_fen - discount + shipping_fen,
        line_discounts=tuple(line_discounts),
    )


def refund_share_fen(
    *, line_total_fen: int, line_discount_fen: int, quantity: int, already: int, units: int
) -> int:
    """What `units` more units of a line paid (discount included), `already` refunded before.

    Cumulative floors: refunding a line unit by unit, or all at once, gives back exactly what
    the line paid, never a fen more or less in total."""
    if units < 0 or already < 0 or already + units > quantity:
        raise ValueError(f"cannot refund {units} of {quantity - already} units left on the line")
    paid = line_total_fen - line_discount_fen
    return paid * (already + units) // quantity - paid * already // quantity
