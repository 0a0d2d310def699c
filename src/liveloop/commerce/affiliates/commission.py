"""Commission arithmetic in fen (pure): what a line earns and what a refund takes back.

Rounding, chosen so the shop never pays out a fen that was not earned:
- earned on a line = floor(base × rate_bp / 10 000), base = line total after its discount;
- taken back after refunds = ceil(earned × refunded base / base), so a full refund takes back
  exactly what was earned and a partial one never leaves a fraction of a fen owed;
- an amount refunded for the whole order is spread over the lines by their base with the
  largest-remainder rule, so the parts sum to the refund exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

BASIS_POINTS = 10_000


def commission_fen(base_fen: int, rate_bp: int) -> int:
    if base_fen < 0 or not 0 <= rate_bp <= BASIS_POINTS:
        raise ValueError(f"base {base_fen} and rate {rate_bp} bp must be non-negative")
    return base_fen * rate_bp // BASIS_POINTS


def reversed_fen(amount_fen: int, base_fen: int, refunded_base_fen: int) -> int:
    """How much of `amount_fen` is taken back once `refunded_base_fen` of the base came back."""
    if base_fen <= 0:
        return amount_fen if refunded_base_fen > 0 else 0
    refunded = min(max(refunded_base_fen, 0), base_fen)
    return -(-amount_fen * refunded // base_fen)


def split_by_weight(total_fen: int, weights: Sequence[int]) -> list[int]:
    """`total_fen` in parts proportional to `weights`, summing exactly (largest remainder;
    ties go to the earlier part). A part never exceeds its weight when total ≤ sum(weights)."""
    whole = sum(weights)
    if total_fen < 0 or any(w < 0 for w in weights):
        raise ValueError("amounts and weights must be non-negative")
    if whole == 0:
        return [0] * len(weights)
    parts = [total_fen * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total_fen * weights[i] % whole), i))
    for index in remainders[: total_fen - sum(parts)]:
        parts[index] += 1
    return parts
