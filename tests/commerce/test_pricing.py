"""Pure price calculation: fen arithmetic, largest-remainder split, shipping, coupons."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveloop.commerce.pricing import (
    PricedLine,
    price_order,
    refund_share_fen,
    shipping_fee,
    split_largest_remainder,
)


@dataclass
class Coupon:
    applicable: bool = True
    discount_fen: int = 0
    free_shipping: bool = False
    eligible_sku_ids: frozenset[int] | None = None


def line(sku_id: int, price: int, quantity: int = 1, product_id: int = 1) -> PricedLine:
    return PricedLine(
        sku_id=sku_id,
        product_id=product_id,
        category_id=None,
        unit_price_fen=price,
        quantity=quantity,
    )


def test_split_gives_the_leftover_fen_to_the_largest_remainders() -> None:
    # 100 fen over three equal lines: 33.33 each; the first (tie) gets the extra fen.
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 1000 over 1990 / 2990 / 5000 (sum 9980): exact 199.398 / 299.599 / 501.002
    assert split_largest_remainder(1000, [1990, 2990, 5000]) == [199, 300, 501]
    assert split_largest_remainder(0, [5, 5]) == [0, 0]
    assert split_largest_remainder(7, [0, 3]) == [0, 7]


def test_split_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError):
        split_largest_remainder(-1, [1])
    with pytest.raises(ValueError):
        split_largest_remainder(5, [0, 0])


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=12),
)
def test_split_sums_exactly_and_stays_within_a_fen(amount: int, weights: list[int]) -> None:
    shares = split_largest_remainder(amount, weights)
    assert sum(shares) == amount
    total = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = amount * weight / total
        assert exact - 1 < share < exact + 1


def test_price_without_coupon_is_items_plus_shipping() -> None:
    breakdown = price_order([line(1, 5990, 2), line(2, 1990)], coupon=None, shipping_fen=1000)
    assert breakdown.items_fen == 13970
    assert breakdown.discount_fen == 0
    assert breakdown.total_fen == 14970
    assert breakdown.line_discounts == (0, 0)


def test_coupon_discount_is_split_over_the_eligible_lines_only() -> None:
    lines = [line(1, 9900), line(2, 5000), line(3, 10000)]
    coupon = Coupon(discount_fen=2000, eligible_sku_ids=frozenset({1, 3}))
    breakdown = price_order(lines, coupon=coupon, shipping_fen=0)
    assert breakdown.discount_fen == 2000
    assert breakdown.line_discounts[1] == 0
    assert sum(breakdown.line_discounts) == 2000
    # 2000 × 9900/19900 = 994.97…, 2000 × 10000/19900 = 1005.02…
    assert breakdown.line_discounts == (995, 0, 1005)
    assert breakdown.total_fen == 24900 - 2000


def test_discount_is_capped_at_the_eligible_items_and_never_makes_a_negative_total() -> None:
    breakdown = price_order(
        [line(1, 500), line(2, 800)],
        coupon=Coupon(discount_fen=3000, eligible_sku_ids=frozenset({1})),
        shipping_fen=1000,
    )
    assert breakdown.discount_fen == 500
    assert breakdown.total_fen == 800 + 1000


def test_free_shipping_coupon_and_not_applicable_coupon() -> None:
    free = price_order([line(1, 1000)], coupon=Coupon(free_shipping=True), shipping_fen=1000)
    assert (free.shipping_fen, free.total_fen) == (0, 1000)
    unusable = Coupon(applicable=False, discount_fen=500, free_shipping=True)
    breakdown = price_order([line(1, 1000)], coupon=unusable, shipping_fen=1000)
    assert (breakdown.discount_fen, breakdown.total_fen) == (0, 2000)


def test_shipping_is_flat_until_the_threshold() -> None:
    assert shipping_fee(9899, fee_fen=1000, free_threshold_fen=9900) == 1000
    assert shipping_fee(9900, fee_fen=1000, free_threshold_fen=9900) == 0
    assert shipping_fee(100000, fee_fen=1000, free_threshold_fen=None) == 1000
    assert shipping_fee(0, fee_fen=1000, free_threshold_fen=9900) == 0


@given(
    prices=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 99)), min_size=1, max_size=10),
    discount=st.integers(0, 10**8),
    shipping=st.integers(0, 5000),
)
def test_totals_add_up_for_any_order(
    prices: list[tuple[int, int]], discount: int, shipping: int
) -> None:
    lines = [line(i + 1, price, quantity) for i, (price, quantity) in enumerate(prices)]
    breakdown = price_order(lines, coupon=Coupon(discount_fen=discount), shipping_fen=shipping)
    assert breakdown.total_fen == breakdown.items_fen - breakdown.discount_fen + shipping
    assert sum(breakdown.line_discounts) == breakdown.discount_fen <= breakdown.items_fen
    assert breakdown.total_fen >= 0
    for discount_fen, priced in zip(breakdown.line_discounts, lines, strict=True):
        assert 0 <= discount_fen <= priced.total_fen


@given(
    quantity=st.integers(1, 20),
    unit=st.integers(0, 10**5),
    steps=st.lists(st.integers(1, 5), max_size=20),
)
def test_refunding_a_line_in_parts_gives_back_exactly_what_it_paid(
    quantity: int, unit: int, steps: list[int]
) -> None:
    total = unit * quantity
    discount = total // 3
    already, refunded = 0, 0
    for step in steps:
        units = min(step, quantity - already)
        refunded += refund_share_fen(
            line_total_fen=total,
            line_discount_fen=discount,
            quantity=quantity,
            already=already,
            units=units,
        )
        already += units
    rest = quantity - already
    refunded += refund_share_fen(
        line_total_fen=total,
        line_discount_fen=discount,
        quantity=quantity,
        already=already,
        units=rest,
    )
    assert refunded == total - discount


def test_refund_share_refuses_too_many_units() -> None:
    with pytest.raises(ValueError):
        refund_share_fen(line_total_fen=100, line_discount_fen=0, quantity=2, already=1, units=2)
