"""Red packet splits: every share >= 1 fen, exactly `count` shares summing to the total."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveloop.live.redpackets.splits import equal_split, lucky_split, split_total


@st.composite
def totals_and_counts(draw: st.DrawFn) -> tuple[int, int]:
    count = draw(st.integers(min_value=1, max_value=2000))
    total = draw(st.integers(min_value=count, max_value=20_000_000))
    return total, count


@given(totals_and_counts(), st.sampled_from(["lucky", "equal"]), st.integers(0, 2**32))
def test_shares_sum_to_the_total_each_at_least_one_fen(
    case: tuple[int, int], kind: str, seed: int
) -> None:
    total, count = case
    shares = split_total(kind, total, count, random.Random(seed))  # type: ignore[arg-type]
    assert len(shares) == count
    assert sum(shares) == total
    assert min(shares) >= 1


@given(st.integers(min_value=1, max_value=500), st.integers(min_value=0, max_value=499))
def test_the_tightest_totals_give_one_fen_each_or_one_more(count: int, extra: int) -> None:
    total = count + extra
    assert sorted(lucky_split(total, count)) != [] and sum(lucky_split(total, count)) == total
    equal = equal_split(total, count)
    assert max(equal) - min(equal) <= 1 and sum(equal) == total


def test_equal_spreads_the_remainder_over_the_first_shares() -> None:
    assert equal_split(100, 3) == [34, 33, 33]
    assert equal_split(5, 5) == [1, 1, 1, 1, 1]


def test_lucky_varies_and_refuses_too_small_totals() -> None:
    rng = random.Random(7)
    assert len({tuple(lucky_split(10_000, 10, rng)) for _ in range(5)}) > 1
    with pytest.raises(ValueError):
        lucky_split(9, 10)
    with pytest.raises(ValueError):
        equal_split(1, 0)
