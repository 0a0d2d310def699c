"""Votes in a live poll as it grows: time `polls.service.vote` at several ballot counts.

    .venv/bin/python bench/poll_votes.py                       # SQLite file
    .venv/bin/python bench/poll_votes.py --sizes 0 10000 50000 100000
    .venv/bin/python bench/poll_votes.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_polls

A poll of 4 options is filled in SQL with N guest ballots, then 200 guests vote one after
another through `vote` (each its own transaction: the shared lock on the poll, the ballot and
choice rows, the vote event, the recount of the results the voter is shown). The baseline is the
same 200 votes on an empty poll, so the ratio shows what the recount costs as a poll grows.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from liveloop.core.database import Database
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.live.polls import service
from liveloop.live.polls.models import PollChoice, PollVote
from liveloop.live.polls.schemas import PollIn
from liveloop.live.viewers import ViewerClaims
from liveloop.models import Base
from liveloop.shops.models import Shop
from liveloop.shops.service import system_actor

BATCH = 5_000
VOTES = 200


async def open_poll(database: Database, shop_id: int, room_id: int) -> int:
    async with database.sessionmaker() as session:
        poll = await service.open_poll(
            session=session,
            actor=system_actor(shop_id, "bench"),
            live_session_id=room_id,
            data=PollIn(question="今晚先上哪款？", options=["红茶", "绿茶", "白茶", "乌龙"]),
        )
        await session.commit()
        return poll.id


async def close_poll(database: Database, shop_id: int, poll_id: int) -> None:
    async with database.sessionmaker() as session:
        await service.close_poll(
            session=session, actor=system_actor(shop_id, "bench"), poll_id=poll_id
        )
        await session.commit()


async def fill(database: Database, shop_id: int, poll_id: int, ballots: int) -> None:
    """`ballots` guest ballots, one choice each, spread over the options."""
    async with database.engine.begin() as connection:
        for start in range(0, ballots, BATCH):
            rows = [
                {"shop_id": shop_id, "poll_id": poll_id, "voter_key": f"d:fill-{n}",
                 "name": "观众", "choices": [n % 4]}
                for n in range(start, min(start + BATCH, ballots))
            ]  # fmt: skip
            await connection.execute(insert(PollVote), rows)
        votes = await connection.execute(
            select(PollVote.id, PollVote.choices).where(PollVote.poll_id == poll_id)
        )
        choices = [
            {"shop_id": shop_id, "vote_id": vote_id, "option_index": picked[0], "poll_id": poll_id}
            for vote_id, picked in votes.all()
        ]
        for start in range(0, len(choices), BATCH):
            await connection.execute(insert(PollChoice), choices[start : start + BATCH])


async def votes(
    database: Database, shop_id: int, room_id: int, poll_id: int, label: str
) -> list[float]:
    latencies = []
    for n in range(VOTES):
        claims = ViewerClaims(
            shop_id=shop_id, live_session_id=room_id, customer_id=None,
            device_id=f"bench-{label}-{n:05d}", name="观众",
        )  # fmt: skip
        started = time.perf_counter()
        async with database.sessionmaker() as session:
            await service.vote(session=session, claims=claims, poll_id=poll_id, options=[n % 4])
            await session.commit()
        latencies.append(time.perf_counter() - started)
    return latencies


async def bench(url: str, sizes: list[int]) -> None:
    from tests.factories.live import make_live_session

    configure_logging("warning")
    queue.configure(Settings(database_url=url, queue_backend="immediate", log_level="warning"))
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.sessionmaker() as session:
            shop = Shop(name=f"投票压测 {time.time():.0f}")
            session.add(shop)
            await session.flush()
            shop_id = shop.id
            room = await make_live_session(session, shop_id=shop_id, status="live")
            room_id = room.id
            await session.commit()
        print(f"\n{url.split('://')[0]}: {VOTES} votes one after another into a poll of N ballots")
        baseline = None
        for size in sizes:
            poll_id = await open_poll(database, shop_id, room_id)
            await fill(database, shop_id, poll_id, size)
            latencies = await votes(database, shop_id, room_id, poll_id, str(size))
            await close_poll(database, shop_id, poll_id)
            mean = statistics.mean(latencies) * 1000
            baseline = baseline or mean
            p95 = sorted(latencies)[int(len(latencies) * 0.95) - 1] * 1000
            print(f"N = {size:>7,}: mean {mean:6.1f} ms  p50 {statistics.median(latencies) * 1000:6.1f} ms"
                  f"  p95 {p95:6.1f} ms  x{mean / baseline:4.1f} of N = {sizes[0]:,}")  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10_000, 50_000])
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    url = args.url
    if not url:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'poll_bench.db'}"
    elif url.startswith("postgresql"):
        from bench.segments import ensure_database  # the dedicated database, created once

        asyncio.run(ensure_database(url))
    asyncio.run(bench(url, args.sizes))


if __name__ == "__main__":
    main()
