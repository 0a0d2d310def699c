"""How a red packet's total is cut into shares (pure: no database).

Both splits give exactly `count` shares of at least 1 fen each that sum exactly to `total_fen`
(the caller guarantees `total_fen >= count >= 1`).

    lucky   "double mean" (二倍均值), as red packets are usually cut: each share in turn is a
            random amount between 1 fen and twice the mean of what is left (leaving at least
            1 fen for every share after it); the last share takes the rest; then the shares
            are shuffled, so the big one is not always the first or the last.
    equal   floor(total / count) each; the remainder fen (total mod count) go one each to the
            first shares, so ¥1.00 in 3 is 34, 33, 33 fen.
"""

from __future__ import annotations

import random
import secrets
from typing import Literal

SplitKind = Literal["lucky", "equal"]

_system_random = secrets.SystemRandom()


def equal_split(total_fen: int, count: int) -> list[int]:
    _check(total_fen, count)
    base, extra = divmod(total_fen, count)
    return [base + 1 if n < extra else base for n in range(count)]


def lucky_split(total_fen: int, count: int, rng: random.Random | None = None) -> list[int]:
    _check(total_fen, count)
    rng = rng or _system_random
    shares: list[int] = []
    remaining, left = total_fen, count
    while left > 1:
        # At most twice the mean of what is left, and never so much that a later share would
        # get less than 1 fen.
        upper = min(max(1, 2 * remaining // left), remaining - (left - 1))
        amount = rng.randint(1, upper)
        shares.append(amount)
        remaining -= amount
        left -= 1
    shares.append(remaining)
    rng.shuffle(shares)
    return shares


def split_total(
    kind: SplitKind, total_fen: int, count: int, rng: random.Random | None = None
) -> list[int]:
    if kind == "equal":
        return equal_split(total_fen, count)
    return lucky_split(total_fen, count, rng)


def _check(total_fen: int, count: int) -> None:
    if count < 1 or total_fen < count:
        raise ValueError(f"cannot split {total_fen} fen into {count} shares of at least 1 fen")
