"""The coupon rules as a matrix: every kind × scope × threshold × window × reason, in fen."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveloop.commerce.coupons.rules import (
    CouponKind,
    CouponRule,
    CouponScope,
    evaluate_coupon,
    pick_best,
    value_text,
    yuan,
)
from liveloop.commerce.pricing import PricedLine, price_order

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
TEA, CUP = 10, 20  # product ids
TEA_CATEGORY, WARE_CATEGORY = 100, 200

LINES = [
    PricedLine(sku_id=1, product_id=TEA, category_id=TEA_CATEGORY, unit_price_fen=9900, quantity=1),
    PricedLine(
        sku_id=2, product_id=CUP, category_id=WARE_CATEGORY, unit_price_fen=2550, quantity=2
    ),
]  # ¥99.00 of tea + ¥51.00 of cups = ¥150.00


def rule(**overrides: object) -> CouponRule:
    base = CouponRule(code="C-1024", kind=CouponKind.AMOUNT_OFF, amount_off_fen=1000)
    return replace(base, **overrides)  # type: ignore[arg-type]


def evaluate(r: CouponRule, lines=LINES, *, shipping_fen=1000, customer_id=7, now=NOW):  # type: ignore[no-untyped-def]
    return evaluate_coupon(r, lines, shipping_fen=shipping_fen, now=now, customer_id=customer_id)


KINDS = {
    CouponKind.AMOUNT_OFF: {"amount_off_fen": 1000},
    CouponKind.PERCENT_OFF: {"percent_off": 15, "max_discount_fen": 1000},
    CouponKind.THRESHOLD: {"amount_off_fen": 2000, "threshold_fen": 5000},
    CouponKind.FREE_SHIPPING: {},
}
SCOPES = {
    CouponScope.ALL: ({}, 15000, (1, 2)),
    CouponScope.PRODUCTS: ({"product_ids": frozenset({TEA})}, 9900, (1,)),
    CouponScope.CATEGORIES: ({"category_ids": frozenset({WARE_CATEGORY})}, 5100, (2,)),
}


def expected_discount(kind: CouponKind, eligible_fen: int) -> int:
    if kind == CouponKind.AMOUNT_OFF:
        return 1000
    if kind == CouponKind.PERCENT_OFF:
        return min(eligible_fen * 15 // 100, 1000)
    if kind == CouponKind.THRESHOLD:
        return 2000
    return 0


@pytest.mark.parametrize(("kind", "scope"), list(itertools.product(KINDS, SCOPES)))
def test_applicable_matrix(kind: CouponKind, scope: CouponScope) -> None:
    scope_terms, eligible_fen, sku_ids = SCOPES[scope]
    r = rule(kind=kind, scope=scope, **{**{"amount_off_fen": 0}, **KINDS[kind], **scope_terms})
    result = evaluate(r)
    assert result.applicable, result.reason
    assert result.eligible_sku_ids == sku_ids
    assert result.eligible_items_fen == eligible_fen
    assert result.discount_fen == expected_discount(kind, eligible_fen)
    assert result.free_shipping is (kind == CouponKind.FREE_SHIPPING)
    assert result.shipping_discount_fen == (1000 if kind == CouponKind.FREE_SHIPPING else 0)
    assert result.reason_code is None


@pytest.mark.parametrize(("kind", "scope"), list(itertools.product(KINDS, SCOPES)))
def test_threshold_counts_only_eligible_items(kind: CouponKind, scope: CouponScope) -> None:
    scope_terms, eligible_fen, _ = SCOPES[scope]
    terms = {**{"amount_off_fen": 0}, **KINDS[kind], **scope_terms}
    at = rule(kind=kind, scope=scope, **{**terms, "threshold_fen": eligible_fen})
    assert evaluate(at).applicable  # exactly the threshold is enough
    above = rule(kind=kind, scope=scope, **{**terms, "threshold_fen": eligible_fen + 1})
    result = evaluate(above)
    assert not result.applicable
    assert result.reason_code == "below_threshold"
    assert yuan(eligible_fen + 1) in result.reason
    assert yuan(eligible_fen) in result.reason


def test_threshold_message_says_the_numbers() -> None:
    r = rule(kind=CouponKind.THRESHOLD, amount_off_fen=2000, threshold_fen=19900)
    result = evaluate(r)
    assert (
        result.reason == "coupon C-1024 needs an order of at least ¥199.00 (this order is ¥150.00)"
    )
    assert result.reason_zh == "优惠券 C-1024 满¥199.00可用，当前¥150.00"


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    ("window", "code"),
    [
        ({"valid_from": NOW + dt.timedelta(seconds=1)}, "not_started"),
        ({"valid_from": NOW}, None),
        ({"valid_until": NOW}, "expired"),
        ({"valid_until": NOW + dt.timedelta(seconds=1)}, None),
        (
            {"valid_from": NOW - dt.timedelta(days=2), "valid_until": NOW - dt.timedelta(days=1)},
            "expired",
        ),
        ({"instance_status": "expired", "owner_customer_id": 7}, "expired"),
    ],
)
def test_window(kind: CouponKind, window: dict[str, object], code: str | None) -> None:
    result = evaluate(rule(kind=kind, **{**{"amount_off_fen": 0}, **KINDS[kind], **window}))
    assert result.reason_code == code
    assert result.applicable is (code is None)


@pytest.mark.parametrize(
    ("terms", "code", "phrase"),
    [
        ({"owner_customer_id": 8}, "not_yours", "another customer"),
        ({"owner_customer_id": 7, "instance_status": "used"}, "already_used", "already been used"),
        ({"owner_customer_id": 7, "instance_status": "locked"}, "already_used", "unpaid order"),
        ({"remaining": 0}, "used_up", "all been claimed"),
        (
            {"scope": CouponScope.PRODUCTS, "product_ids": frozenset({999})},
            "out_of_scope",
            "any item",
        ),
        (
            {"scope": CouponScope.CATEGORIES, "category_ids": frozenset({999})},
            "out_of_scope",
            "any item",
        ),
        ({"threshold_fen": 15001}, "below_threshold", "¥150.01"),
        ({"owner_customer_id": 7, "instance_status": "available"}, None, ""),
        ({"owner_customer_id": 7, "instance_status": "returned"}, None, ""),
        ({"remaining": 1}, None, ""),
    ],
)
def test_reasons(terms: dict[str, object], code: str | None, phrase: str) -> None:
    result = evaluate(rule(**terms))
    assert result.reason_code == code
    assert result.applicable is (code is None)
    if code:
        assert phrase in result.reason
        assert result.reason_zh.startswith("优惠券 C-1024")
        assert result.discount_fen == 0


def test_owner_check_comes_before_the_window() -> None:
    r = rule(owner_customer_id=8, valid_until=NOW - dt.timedelta(days=1))
    assert evaluate(r).reason_code == "not_yours"


@pytest.mark.parametrize(
    ("percent", "cap", "items", "expected"),
    [
        (15, None, 999, 149),  # 149.85 fen rounds down: never more than 15%
        (15, None, 1000, 150),
        (33, None, 1, 0),
        (50, None, 3, 1),
        (15, 100, 1000, 100),  # capped
        (15, 150, 1000, 150),  # cap equal to the percentage
        (99, None, 12345, 12221),
    ],
)
def test_percent_rounds_down_to_the_fen_and_caps(
    percent: int, cap: int | None, items: int, expected: int
) -> None:
    line = PricedLine(sku_id=1, product_id=1, category_id=None, unit_price_fen=items, quantity=1)
    r = rule(
        kind=CouponKind.PERCENT_OFF, amount_off_fen=0, percent_off=percent, max_discount_fen=cap
    )
    assert evaluate(r, [line]).discount_fen == expected


def test_amount_never_exceeds_eligible_items() -> None:
    r = rule(amount_off_fen=99999, scope=CouponScope.PRODUCTS, product_ids=frozenset({CUP}))
    assert evaluate(r).discount_fen == 5100


def test_free_shipping_with_no_fee_is_applicable_and_saves_nothing() -> None:
    result = evaluate(rule(kind=CouponKind.FREE_SHIPPING, amount_off_fen=0), shipping_fen=0)
    assert result.applicable and result.free_shipping and result.savings_fen == 0


def test_pick_best_prefers_savings_then_earliest_expiry() -> None:
    small = evaluate(rule(amount_off_fen=500))
    big = evaluate(rule(amount_off_fen=1500))
    shipping = evaluate(rule(kind=CouponKind.FREE_SHIPPING, amount_off_fen=0))  # saves 1000
    refused = evaluate(rule(amount_off_fen=9000, threshold_fen=99999))
    later, sooner = NOW + dt.timedelta(days=9), NOW + dt.timedelta(days=1)
    assert pick_best([("s", small, None), ("b", big, later), ("r", refused, None)])[0] == "b"
    assert pick_best([("a", shipping, later), ("b", evaluate(rule()), sooner)])[0] == "b"
    assert pick_best([("a", shipping, None), ("b", evaluate(rule()), sooner)])[0] == "b"
    assert pick_best([("r", refused, None)]) == (None, None)


def test_value_text() -> None:
    assert (
        value_text(rule(kind=CouponKind.THRESHOLD, amount_off_fen=2000, threshold_fen=19900))
        == "¥20.00 off ¥199.00"
    )
    assert (
        value_text(rule(kind=CouponKind.PERCENT_OFF, percent_off=15, max_discount_fen=3000))
        == "15% off (up to ¥30.00)"
    )


lines_strategy = st.lists(
    st.builds(
        PricedLine,
        sku_id=st.integers(1, 6),
        product_id=st.integers(1, 4),
        category_id=st.one_of(st.none(), st.integers(1, 3)),
        unit_price_fen=st.integers(0, 100_000),
        quantity=st.integers(1, 99),
    ),
    min_size=1,
    max_size=6,
)


@given(
    lines=lines_strategy,
    kind=st.sampled_from(list(CouponKind)),
    amount=st.integers(1, 200_000),
    percent=st.integers(1, 99),
    cap=st.one_of(st.none(), st.integers(1, 50_000)),
    threshold=st.integers(0, 300_000),
    products=st.frozensets(st.integers(1, 4), max_size=3),
)
def test_discount_bounded_and_split_exactly(
    lines, kind, amount, percent, cap, threshold, products
) -> None:  # type: ignore[no-untyped-def]
    scope = CouponScope.PRODUCTS if products else CouponScope.ALL
    r = rule(
        kind=kind,
        amount_off_fen=amount,
        percent_off=percent,
        max_discount_fen=cap,
        threshold_fen=threshold,
        scope=scope,
        product_ids=products,
    )
    result = evaluate(r, lines)
    eligible = [line for line in lines if scope == CouponScope.ALL or line.product_id in products]
    eligible_fen = sum(line.unit_price_fen * line.quantity for line in eligible)
    if not eligible:
        assert result.reason_code == "out_of_scope"
        return
    if eligible_fen < threshold:
        assert result.reason_code == "below_threshold"
        return
    assert result.applicable
    assert 0 <= result.discount_fen <= eligible_fen
    if kind == CouponKind.PERCENT_OFF:
        assert result.discount_fen * 100 <= eligible_fen * percent
    breakdown = price_order(lines, coupon=result, shipping_fen=800)
    assert sum(breakdown.line_discounts) == breakdown.discount_fen == result.discount_fen
    for line, share in zip(lines, breakdown.line_discounts, strict=True):
        assert share == 0 or line.sku_id in result.eligible_sku_ids
        assert share <= line.unit_price_fen * line.quantity
    assert breakdown.total_fen >= 0
