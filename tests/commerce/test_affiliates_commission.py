"""Commission arithmetic: floor when earned, ceil when taken back, exact sums (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveloop.commerce.affiliates.commission import commission_fen, reversed_fen, split_by_weight


def test_commission_rounds_down_to_the_fen() -> None:
    assert commission_fen(12900, 1000) == 1290
    assert commission_fen(999, 1250) == 124  # 124.875 fen -> 124
    assert commission_fen(0, 1000) == 0
    with pytest.raises(ValueError):
        commission_fen(100, 10_001)


def test_full_refund_takes_back_exactly_what_was_earned() -> None:
    assert reversed_fen(124, 999, 999) == 124
    assert reversed_fen(124, 999, 5000) == 124  # never more than earned


def test_partial_refund_rounds_the_take_back_up() -> None:
    # a third of 100 fen refunded: 33.3 fen -> 34 taken back, 66 still owed
    assert reversed_fen(100, 3000, 1000) == 34


def test_split_sums_exactly_and_breaks_ties_to_the_earlier_line() -> None:
    assert split_by_weight(100, [1, 1, 1]) == [34, 33, 33]
    assert split_by_weight(0, [5, 5]) == [0, 0]
    assert split_by_weight(7, [0, 0]) == [0, 0]


@given(
    st.integers(0, 10**9),
    st.lists(st.integers(0, 10**7), min_size=1, max_size=8),
)
def test_split_by_weight_is_exact_and_within_weights(total: int, weights: list[int]) -> None:
    total = min(total, sum(weights))
    parts = split_by_weight(total, weights)
    assert sum(parts) == (total if sum(weights) else 0)
    assert all(0 <= p <= w for p, w in zip(parts, weights, strict=True))


@given(
    st.integers(1, 10**8),
    st.integers(0, 10_000),
    st.lists(st.integers(1, 10**8), min_size=1, max_size=5),
)
def test_successive_partial_refunds_never_leave_more_owed_than_the_refund_allows(
    base: int, rate: int, refunds: list[int]
) -> None:
    earned = commission_fen(base, rate)
    refunded = 0
    for refund in refunds:
        refunded = min(base, refunded + refund)
        taken = reversed_fen(earned, base, refunded)
        assert 0 <= taken <= earned
        # what stays owed is at most the rate applied to what was kept
        assert earned - taken <= (base - refunded) * rate // 10_000 + 1
    if refunded == base:
        assert reversed_fen(earned, base, refunded) == earned
