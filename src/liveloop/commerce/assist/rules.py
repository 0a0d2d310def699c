"""Assist arithmetic (pure): how a price cut is shared among the helpers."""

from __future__ import annotations


def cut_for_helper(*, start_fen: int, target_fen: int, helpers_needed: int, position: int) -> int:
    """The cut the `position`-th helper (1-based) makes. Cuts of all helpers sum to
    start - target exactly; the first helpers take the fen left over by the division, so
    early helpers see a slightly larger cut and the last one lands exactly on the target."""
    if not 1 <= position <= helpers_needed:
        raise ValueError(f"helper position {position} outside 1..{helpers_needed}")
    total = max(start_fen - target_fen, 0)
    share, extra = divmod(total, helpers_needed)
    return share + (1 if position <= extra else 0)


def price_after(*, start_fen: int, target_fen: int, helpers_needed: int, helpers: int) -> int:
    """The price once `helpers` helpers have helped (never below the target)."""
    helpers = min(max(helpers, 0), helpers_needed)
    cut = sum(
        cut_for_helper(
            start_fen=start_fen, target_fen=target_fen, helpers_needed=helpers_needed, position=p
        )
        for p in range(1, helpers + 1)
    )
    return max(start_fen - cut, target_fen)
