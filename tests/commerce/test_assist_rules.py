"""How a price cut is shared among helpers (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liveloop.commerce.assist.rules import cut_for_helper, price_after


def test_cuts_share_the_difference_and_land_on_the_target() -> None:
    cuts = [
        cut_for_helper(start_fen=10000, target_fen=100, helpers_needed=3, position=p)
        for p in (1, 2, 3)
    ]
    assert cuts == [3300, 3300, 3300]
    assert price_after(start_fen=10001, target_fen=0, helpers_needed=3, helpers=1) == 6667
    assert price_after(start_fen=10001, target_fen=0, helpers_needed=3, helpers=3) == 0


@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(1, 50))
def test_all_cuts_sum_to_start_minus_target(start: int, target: int, needed: int) -> None:
    total = sum(
        cut_for_helper(start_fen=start, target_fen=target, helpers_needed=needed, position=p)
        for p in range(1, needed + 1)
    )
    assert total == max(start - target, 0)
    final = price_after(start_fen=start, target_fen=target, helpers_needed=needed, helpers=needed)
    assert final == max(target, start) if start < target else final == target
