"""The draw algorithm and the independent verifier agree, and the verifier catches tampering."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.live.lottery import draw, verify

seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
ticket_lists = st.lists(
    st.binary(min_size=8, max_size=8).map(bytes.hex), unique=True, max_size=60
).map(sorted)


def published(seed: str, tickets: list[str], winner_count: int) -> dict:  # type: ignore[type-arg]
    return {
        "lottery_id": 1,
        "status": "drawn",
        "seed": seed,
        "seed_hash": draw.commitment(seed),
        "entrants": tickets,
        "entrants_hash": draw.entrants_digest(tickets),
        "winner_count": winner_count,
        "winners": draw.draw_winners(seed, tickets, winner_count),
    }


@settings(max_examples=200)
@given(seed=seeds, tickets=ticket_lists, winner_count=st.integers(1, 20))
def test_verifier_recomputes_the_servers_winners(seed, tickets, winner_count) -> None:
    winners = draw.draw_winners(seed, tickets, winner_count)
    assert winners == verify.recompute(seed, tickets, winner_count)
    assert len(winners) == min(winner_count, len(tickets))
    assert len(set(winners)) == len(winners) and set(winners) <= set(tickets)
    assert draw.draw_winners(seed, list(tickets), winner_count) == winners  # reproducible
    assert verify.check(published(seed, tickets, winner_count)) == []


@settings(max_examples=50)
@given(seed=seeds, other=seeds, tickets=ticket_lists.filter(lambda t: len(t) >= 2))
def test_tampering_is_caught(seed, other, tickets) -> None:
    record = published(seed, tickets, 1)
    if other != seed:
        assert verify.check({**record, "seed": other})  # not the committed seed
    assert verify.check({**record, "entrants": list(reversed(tickets))})  # reordered
    assert verify.check({**record, "entrants": tickets[1:]})  # someone left out
    loser = next(t for t in tickets if t not in record["winners"])
    assert verify.check({**record, "winners": [loser]})  # a different winner published


def test_every_entrant_can_win() -> None:
    """Over many seeds each of five entrants is drawn first about a fifth of the time."""
    tickets = sorted(f"{n:016x}" for n in range(5))
    firsts = [
        draw.draw_winners(hashlib.sha256(str(n).encode()).hexdigest(), tickets, 1)[0]
        for n in range(2000)
    ]
    counts = [firsts.count(t) for t in tickets]
    assert min(counts) > 300 and max(counts) < 500, counts


def test_tickets_are_pseudonyms_of_one_lottery() -> None:
    salt_a, salt_b = "a" * 64, "b" * 64
    assert draw.ticket_for(salt_a, 7) == draw.ticket_for(salt_a, 7)
    assert draw.ticket_for(salt_a, 7) != draw.ticket_for(salt_b, 7)
    assert draw.ticket_for(salt_a, 7) != draw.ticket_for(salt_a, 8)
    assert len(draw.ticket_for(salt_a, 7)) == 16


def test_unsorted_tickets_are_refused() -> None:
    try:
        draw.draw_winners("0" * 64, ["b", "a"], 1)
    except ValueError as error:
        assert "sorted" in str(error)
    else:
        raise AssertionError("an unsorted list was drawn")
