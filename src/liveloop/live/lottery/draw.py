"""The lottery draw: winners from a committed seed and the ordered entrant list.

The procedure (docs/lottery-fairness.md gives it step by step; `verify.py` is an independent
stdlib re-implementation anyone can run):

1. At the start the server picks `seed` (32 random bytes, 64 hex chars) and publishes
   `seed_hash = sha256(seed as ASCII hex)`.
2. At the draw the entrants are listed by ticket, ascending (a ticket is a 16-hex-char
   pseudonym of one customer in one lottery); `entrants_hash = sha256("\\n".join(tickets))`.
3. A partial Fisher–Yates shuffle picks k = min(winner_count, n) winners: for i = 0..k-1,
   m = n - i, draw the uniform number u in [0, m) from
   `sha256(f"{seed}:{entrants_hash}:{i}:{c}")` read as a big-endian 256-bit integer, with
   rejection (c = 0, 1, … until the integer is below the largest multiple of m), and swap
   position i with position i + u. Winners are positions 0..k-1 in that order.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALGORITHM = "liveloop-lottery-v1"
_SPACE = 1 << 256


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def ticket_for(salt: str, customer_id: int) -> str:
    """A customer's pseudonym in one lottery (keyed by the lottery's secret salt): stable
    within the lottery, unlinkable across lotteries and to the customer id."""
    message = f"customer:{customer_id}".encode()
    return hmac.new(salt.encode("ascii"), message, hashlib.sha256).hexdigest()[:16]


def entrants_digest(tickets: list[str]) -> str:
    return hashlib.sha256("\n".join(tickets).encode("ascii")).hexdigest()


def _uniform(seed: str, digest: str, index: int, bound: int) -> int:
    limit = _SPACE - _SPACE % bound
    counter = 0
    while True:
        block = hashlib.sha256(f"{seed}:{digest}:{index}:{counter}".encode("ascii")).digest()
        value = int.from_bytes(block, "big")
        if value < limit:
            return value % bound
        counter += 1


def draw_winners(seed: str, tickets: list[str], winner_count: int) -> list[str]:
    """The winning tickets, in draw order. `tickets` must be sorted ascending and distinct."""
    if tickets != sorted(set(tickets)):
        raise ValueError("the entrant tickets must be distinct and sorted ascending")
    digest = entrants_digest(tickets)
    order = list(tickets)
    count = min(winner_count, len(order))
    for index in range(count):
        pick = index + _uniform(seed, digest, index, len(order) - index)
        order[index], order[pick] = order[pick], order[index]
    return order[:count]
