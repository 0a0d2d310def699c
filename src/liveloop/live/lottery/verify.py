#!/usr/bin/env python3
"""Verify a published LiveLoop lottery draw. Standard library only: copy this file anywhere.

    python verify.py https://shop.example.com/api/v1/public/lotteries/42/draw
    python verify.py draw.json            # the same JSON saved to a file
    python -m liveloop.live.lottery.verify <url or file>

Checks that the revealed seed matches the commitment published at the start, that the entrant
list is sorted and matches its hash, and recomputes the winners (docs/lottery-fairness.md).
Exit status 0 when the draw verifies, 1 when it does not, 2 when the input cannot be read.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.request
from typing import Any

SPACE = 2**256


def recompute(seed: str, tickets: list[str], winner_count: int) -> list[str]:
    digest = hashlib.sha256("\n".join(tickets).encode("ascii")).hexdigest()
    order = list(tickets)
    for i in range(min(winner_count, len(order))):
        m = len(order) - i
        c = 0
        while True:
            h = int(hashlib.sha256(f"{seed}:{digest}:{i}:{c}".encode("ascii")).hexdigest(), 16)
            if h < SPACE - SPACE % m:
                break
            c += 1
        j = i + h % m
        order[i], order[j] = order[j], order[i]
    return order[: min(winner_count, len(order))]


def check(draw: dict[str, Any]) -> list[str]:
    """The problems found (empty: the draw verifies)."""
    problems = []
    seed, tickets = draw.get("seed"), draw.get("entrants") or []
    if not seed:
        return ["the seed is not published yet: the lottery has not been drawn"]
    if hashlib.sha256(seed.encode("ascii")).hexdigest() != draw.get("seed_hash"):
        problems.append("sha256(seed) is not the seed_hash committed at the start")
    if tickets != sorted(set(tickets)):
        problems.append("the entrant list is not sorted ascending without repeats")
    if hashlib.sha256("\n".join(tickets).encode("ascii")).hexdigest() != draw.get("entrants_hash"):
        problems.append("the entrant list does not match entrants_hash")
    expected = recompute(seed, tickets, int(draw.get("winner_count") or 0))
    if draw.get("status") == "drawn" and expected != draw.get("winners"):
        problems.append(f"the winners should be {expected}, published {draw.get('winners')}")
    return problems


def load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:
            return json.loads(response.read())
    with open(source, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1])
        return 2
    try:
        draw = load(argv[1])
    except (OSError, ValueError) as error:
        print(f"cannot read the draw: {error}")
        return 2
    problems = check(draw)
    if problems:
        for problem in problems:
            print(f"FAIL: {problem}")
        return 1
    print(
        f"OK: lottery {draw.get('lottery_id')} — {len(draw['entrants'])} entrants, "
        f"winners {draw.get('winners')} recomputed from the committed seed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
