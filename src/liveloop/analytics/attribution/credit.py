"""The attribution models as pure functions: a journey and an order's value in, integer fen per
touchpoint out, summing exactly to the value (docs/attribution.md has the formulas).

A journey is the order's touchpoints oldest first, each with its channel and its age (seconds
before the order). Weights are exact fractions; `split_fen` turns them into fen by largest
remainder, so no fen is lost or made up whatever the weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from math import lcm

FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
LINEAR = "linear"
TIME_DECAY = "time_decay"
POSITION_BASED = "position_based"
DATA_DRIVEN = "data_driven"
MODELS: tuple[str, ...] = (
    FIRST_TOUCH,
    LAST_TOUCH,
    LINEAR,
    TIME_DECAY,
    POSITION_BASED,
    DATA_DRIVEN,
)
DEFAULT_HALF_LIFE_S = 7 * 86400

# The Markov chain's states besides the channels.
START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"


@dataclass(frozen=True)
class Touch:
    """One touchpoint of a journey as the models see it."""

    channel: str
    age_s: int  # seconds between the touch and the order (0 = at the order)


def split_fen(total: int, weights: Sequence[Fraction]) -> list[int]:
    """`total` fen shared in proportion to `weights` (non-negative, not all zero), by largest
    remainder: each part is the floor of its exact share, and the fen left over go one each to
    the largest remainders; a tie goes to the earlier position. Parts sum to `total` exactly."""
    if not weights or min(weights) < 0:
        raise ValueError("weights must be non-negative and not all zero")
    # On a common denominator the shares are integer divisions: exact, and far quicker than
    # adding up fractions.
    common = lcm(*(w.denominator for w in weights))
    scaled = [w.numerator * (common // w.denominator) for w in weights]
    whole = sum(scaled)
    if whole <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    parts, remainders = [], []
    for weight in scaled:
        part, remainder = divmod(total * weight, whole)
        parts.append(part)
        remainders.append(remainder)
    left = total - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


def first_touch_weights(journey: Sequence[Touch]) -> list[Fraction]:
    return [Fraction(1 if i == 0 else 0) for i in range(len(journey))]


def last_touch_weights(journey: Sequence[Touch]) -> list[Fraction]:
    last = len(journey) - 1
    return [Fraction(1 if i == last else 0) for i in range(len(journey))]


def linear_weights(journey: Sequence[Touch]) -> list[Fraction]:
    return [Fraction(1, len(journey))] * len(journey)


def time_decay_weights(
    journey: Sequence[Touch], half_life_s: int = DEFAULT_HALF_LIFE_S
) -> list[Fraction]:
    """2^(-age / half-life): a touch one half-life older than another counts half as much.
    Ages count from the youngest touch (weight 1), which only scales every weight alike but
    keeps a journey of old touches from underflowing to all zeros. The float power is made an
    exact Fraction, so the same inputs always give the same fen."""
    youngest = min(max(t.age_s, 0) for t in journey)
    return [Fraction(2.0 ** (-(max(t.age_s, 0) - youngest) / half_life_s)) for t in journey]


def position_based_weights(journey: Sequence[Touch]) -> list[Fraction]:
    """40 % first, 40 % last, 20 % shared by the middle; 50/50 for two touches, all for one."""
    n = len(journey)
    if n == 1:
        return [Fraction(1)]
    if n == 2:
        return [Fraction(1, 2), Fraction(1, 2)]
    middle = Fraction(1, 5) / (n - 2)
    return [Fraction(2, 5)] + [middle] * (n - 2) + [Fraction(2, 5)]


def data_driven_weights(journey: Sequence[Touch], effects: dict[str, Fraction]) -> list[Fraction]:
    """Each channel of the journey gets its share of the summed removal effects of the
    journey's channels, split evenly over its touches; linear when none has any effect."""
    counts: dict[str, int] = {}
    for touch in journey:
        counts[touch.channel] = counts.get(touch.channel, 0) + 1
    weights = [effects.get(t.channel, Fraction(0)) / counts[t.channel] for t in journey]
    if sum(weights, Fraction(0)) <= 0:
        return linear_weights(journey)
    return weights


def weights_for(
    model: str,
    journey: Sequence[Touch],
    *,
    half_life_s: int = DEFAULT_HALF_LIFE_S,
    effects: dict[str, Fraction] | None = None,
) -> list[Fraction]:
    rules: dict[str, Callable[[], list[Fraction]]] = {
        FIRST_TOUCH: lambda: first_touch_weights(journey),
        LAST_TOUCH: lambda: last_touch_weights(journey),
        LINEAR: lambda: linear_weights(journey),
        TIME_DECAY: lambda: time_decay_weights(journey, half_life_s),
        POSITION_BASED: lambda: position_based_weights(journey),
        DATA_DRIVEN: lambda: data_driven_weights(journey, effects or {}),
    }
    if model not in rules:
        raise ValueError(f"unknown attribution model {model!r}")
    return rules[model]()


def credit(
    model: str,
    journey: Sequence[Touch],
    value_fen: int,
    *,
    half_life_s: int = DEFAULT_HALF_LIFE_S,
    effects: dict[str, Fraction] | None = None,
) -> list[int]:
    """Fen per touch of `journey` (non-empty) under `model`; they sum to `value_fen`."""
    if not journey:
        raise ValueError("a journey has at least one touchpoint")
    weights = weights_for(model, journey, half_life_s=half_life_s, effects=effects)
    return split_fen(value_fen, weights)


# ---- the data-driven model: first-order Markov chain, removal effect -------------------------


def collapse(channels: Sequence[str]) -> list[str]:
    """A path of channels with repeats in a row made one (no self-loops in the chain)."""
    path: list[str] = []
    for channel in channels:
        if not path or path[-1] != channel:
            path.append(channel)
    return path


def transition_counts(paths: Sequence[tuple[Sequence[str], bool]]) -> dict[str, dict[str, int]]:
    """(channels, converted) paths → counts of start → c1 → … → conversion or null."""
    counts: dict[str, dict[str, int]] = {}
    for channels, converted in paths:
        states = [START, *collapse(channels), CONVERSION if converted else NULL]
        for here, there in pairwise(states):
            row = counts.setdefault(here, {})
            row[there] = row.get(there, 0) + 1
    return counts


def conversion_probability(
    counts: dict[str, dict[str, int]], removed: str | None = None
) -> Fraction:
    """P(reaching conversion from start) in the chain, with `removed` (if any) made a dead
    end. Solved exactly: x_i = Σ_j P(i→j) x_j + P(i→conversion), by Gauss–Jordan elimination
    over fractions (the chain has a handful of states, one per channel)."""
    states = [s for s in counts if s != removed]
    if START not in states:
        return Fraction(0)
    index = {state: i for i, state in enumerate(states)}
    n = len(states)
    matrix = [[Fraction(0)] * (n + 1) for _ in range(n)]
    for state, i in index.items():
        row = counts[state]
        out = sum(row.values())
        matrix[i][i] += 1
        for there, count in row.items():
            p = Fraction(count, out)
            if there == CONVERSION:
                matrix[i][n] += p
            elif there in index:
                matrix[i][index[there]] -= p
    for col in range(n):
        pivot = next(r for r in range(col, n) if matrix[r][col] != 0)
        matrix[col], matrix[pivot] = matrix[pivot], matrix[col]
        lead = matrix[col][col]
        matrix[col] = [v / lead for v in matrix[col]]
        for r in range(n):
            if r != col and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[col], strict=True)]
    return matrix[index[START]][n]


def removal_effects(paths: Sequence[tuple[Sequence[str], bool]]) -> dict[str, Fraction]:
    """Per channel: the share of conversions lost when it is removed from the chain,
    1 - P(conversion without it) / P(conversion). Every channel of a converting path has
    an effect in (0, 1]."""
    counts = transition_counts(paths)
    base = conversion_probability(counts)
    channels = sorted({c for channels, _ in paths for c in channels})
    if base == 0:
        return {channel: Fraction(0) for channel in channels}
    return {
        channel: 1 - conversion_probability(counts, removed=channel) / base for channel in channels
    }
