"""The attribution models as pure functions, against hand-computed credits, and the property
that every model's credits sum exactly to the order's value for any journey."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.analytics.attribution import credit as m
from liveloop.analytics.attribution.credit import Touch

DAY = 86400


def journey(*channels: str, ages: list[int] | None = None) -> list[Touch]:
    ages = ages or [0] * len(channels)
    return [Touch(channel=c, age_s=a) for c, a in zip(channels, ages, strict=True)]


def test_split_fen_is_largest_remainder_with_ties_to_the_earlier() -> None:
    # 100 / 3 = 33.33 each: floors 99, the 1 fen left goes to the first (a tie)
    assert m.split_fen(100, [Fraction(1)] * 3) == [34, 33, 33]
    # 7 split 1:2 → 2.33, 4.67: floors 2 + 4 = 6, the fen goes to the larger remainder (.67)
    assert m.split_fen(7, [Fraction(1), Fraction(2)]) == [2, 5]
    assert m.split_fen(0, [Fraction(1), Fraction(1)]) == [0, 0]
    with pytest.raises(ValueError):
        m.split_fen(10, [Fraction(0)])


def test_first_last_and_linear() -> None:
    path = journey("broadcast", "share", "live_session")
    assert m.credit(m.FIRST_TOUCH, path, 10000) == [10000, 0, 0]
    assert m.credit(m.LAST_TOUCH, path, 10000) == [0, 0, 10000]
    # 10000 / 3 = 3333.33: the extra fen to the first
    assert m.credit(m.LINEAR, path, 10000) == [3334, 3333, 3333]
    assert m.credit(m.LINEAR, journey("kol"), 1) == [1]


def test_position_based_40_20_40() -> None:
    # 4 touches: 40 %, 10 %, 10 %, 40 % of 10001 = 4000.4, 1000.1, 1000.1, 4000.4;
    # floors sum 10000, the fen left goes to the first of the two .4 remainders
    path = journey("a", "b", "c", "d")
    assert m.credit(m.POSITION_BASED, path, 10001) == [4001, 1000, 1000, 4000]
    # 3 touches: 40/20/40 of 10000
    assert m.credit(m.POSITION_BASED, journey("a", "b", "c"), 10000) == [4000, 2000, 4000]
    assert m.credit(m.POSITION_BASED, journey("a", "b"), 5001) == [2501, 2500]
    assert m.credit(m.POSITION_BASED, journey("a"), 99) == [99]


def test_time_decay_halves_per_half_life() -> None:
    # half-life 1 day, ages 2, 1, 0 days: weights 1/4, 1/2, 1 (sum 7/4)
    path = journey("a", "b", "c", ages=[2 * DAY, DAY, 0])
    # 7000 × (1/7, 2/7, 4/7) = 1000, 2000, 4000 exactly
    assert m.credit(m.TIME_DECAY, path, 7000, half_life_s=DAY) == [1000, 2000, 4000]
    # 100 × (1/7, 2/7, 4/7) = 14.29, 28.57, 57.14: floors 99, the fen to .57
    assert m.credit(m.TIME_DECAY, path, 100, half_life_s=DAY) == [14, 29, 57]


def test_markov_removal_effects_by_hand() -> None:
    # paths: A→B→conversion, A→null, B→conversion.
    # start→A 2/3, start→B 1/3; A→B 1/2, A→null 1/2; B→conversion 1.
    # P(conv) = 2/3 × 1/2 + 1/3 = 2/3.
    # without A: 1/3 → effect 1 - (1/3)/(2/3) = 1/2; without B: 0 → effect 1.
    paths = [(["A", "B"], True), (["A"], False), (["B"], True)]
    assert m.conversion_probability(m.transition_counts(paths)) == Fraction(2, 3)
    effects = m.removal_effects(paths)
    assert effects == {"A": Fraction(1, 2), "B": Fraction(1)}
    # journey A, B of 900: weights 1/2 and 1 → 300 and 600
    assert m.credit(m.DATA_DRIVEN, journey("A", "B"), 900, effects=effects) == [300, 600]
    # a channel seen twice splits its share: A, B, A → A's 1/2 in two halves → 150, 600, 150
    assert m.credit(m.DATA_DRIVEN, journey("A", "B", "A"), 900, effects=effects) == [150, 600, 150]


def test_markov_collapses_repeats_and_handles_cycles() -> None:
    assert m.collapse(["A", "A", "B", "A"]) == ["A", "B", "A"]
    # A→B→A→conversion and B→null: a cycle still has an exact answer
    paths = [(["A", "B", "A"], True), (["B"], False)]
    effects = m.removal_effects(paths)
    assert set(effects) == {"A", "B"} and all(0 < e <= 1 for e in effects.values())


def test_data_driven_falls_back_to_linear_without_effects() -> None:
    assert m.credit(m.DATA_DRIVEN, journey("x", "y"), 11, effects={}) == [6, 5]


def test_an_unknown_model_or_empty_journey_is_refused() -> None:
    with pytest.raises(ValueError):
        m.credit("nope", journey("a"), 10)
    with pytest.raises(ValueError):
        m.credit(m.LINEAR, [], 10)


CHANNEL_NAMES = st.sampled_from(["broadcast", "kol", "share", "live_session", "channel_code"])
TOUCHES = st.builds(Touch, channel=CHANNEL_NAMES, age_s=st.integers(0, 60 * DAY))
JOURNEYS = st.lists(TOUCHES, min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    path=JOURNEYS,
    value=st.integers(0, 10**10),
    half_life=st.integers(1, 90 * DAY),
    others=st.lists(st.tuples(st.lists(CHANNEL_NAMES, max_size=6), st.booleans()), max_size=8),
)
def test_every_model_credits_sum_to_the_order_value(
    path: list[Touch], value: int, half_life: int, others: list[tuple[list[str], bool]]
) -> None:
    paths = [([t.channel for t in path], True), *others]
    effects = m.removal_effects(paths)
    for model in m.MODELS:
        parts = m.credit(model, path, value, half_life_s=half_life, effects=effects)
        assert sum(parts) == value, model
        assert len(parts) == len(path) and min(parts) >= 0, model
        # deterministic: the same journey gives the same fen
        assert parts == m.credit(model, path, value, half_life_s=half_life, effects=effects)
