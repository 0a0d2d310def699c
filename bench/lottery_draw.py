"""A lottery draw at scale: N customers commented the keyword in a live room; time the draw.

    .venv/bin/python bench/lottery_draw.py                       # SQLite file, 50,000 entrants
    .venv/bin/python bench/lottery_draw.py --entrants 200000
    .venv/bin/python bench/lottery_draw.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_lottery

The room is filled directly in SQL (customers, two comment events each, half with the keyword,
plus noise comments from other customers), then `draw_lottery` runs once, as the draw job does:
the entrant query (condition + exclusions), one entry row per entrant, the shuffle, the prizes
(points for 10 winners) and the audit. Also times the shuffle alone and the published record
(`public_draw`) with verify.py. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import insert, select

from liveloop.core.database import Database, utcnow
from liveloop.customers.models import Customer
from liveloop.events.models import Event
from liveloop.live.lottery import draw, service, verify
from liveloop.live.lottery.models import Lottery
from liveloop.live.lottery.schemas import LotteryIn
from liveloop.models import Base
from liveloop.shops.models import Shop
from liveloop.shops.service import system_actor

BATCH = 5_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def prepare(database: Database, entrants: int) -> tuple[int, int]:
    """A shop, a live room and `entrants` customers who commented the keyword (and as many
    who only chatted), all inside the lottery's window. Returns (shop id, lottery id)."""
    from liveloop.live import service as live_service
    from liveloop.live.schemas import LiveSessionCreate

    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = Shop(name=f"抽奖压测 {time.time():.0f}")
        session.add(shop)
        await session.flush()
        actor = system_actor(shop.id)
        room = await live_service.create_live_session(
            session=session,
            actor=actor,
            data=LiveSessionCreate(
                title="压测直播", planned_start=utcnow() + dt.timedelta(hours=1)
            ),
        )
        await live_service.start_live_session(session=session, actor=actor, live_session_id=room.id)
        lottery = await service.start_lottery(
            session=session,
            actor=actor,
            live_session_id=room.id,
            data=LotteryIn(
                title="压测福袋", prize_kind="points", prize_points=10, winner_count=10,
                duration_seconds=60, condition={"kind": "keyword", "keyword": "福袋来了"},
            ),
        )  # fmt: skip
        await session.commit()
        shop_id, room_id, lottery_id = shop.id, room.id, lottery.id
        starts_at = lottery.starts_at
    total = entrants * 2
    log(f"customers: {total:,}; comments: {total * 2:,}")
    async with database.engine.begin() as connection:
        for first in range(0, total, BATCH):
            rows = [
                {"shop_id": shop_id, "display_name": f"观众{n}", "status": "active", "consent": {}}
                for n in range(first, min(first + BATCH, total))
            ]
            await connection.execute(insert(Customer), rows)
        ids = [
            row[0]
            for row in await connection.execute(
                select(Customer.id).where(Customer.shop_id == shop_id).order_by(Customer.id)
            )
        ]
        at = starts_at + dt.timedelta(seconds=5)
        events: list[dict[str, Any]] = []
        for index, customer_id in enumerate(ids):
            keyword = index % 2 == 0  # half say the keyword
            for n in range(2):
                events.append(
                    {
                        "shop_id": shop_id,
                        "type": "live_comment",
                        "customer_id": customer_id,
                        "live_session_id": room_id,
                        "properties": {"text": "福袋来了！" if keyword and n == 0 else "好看"},
                        "occurred_at": at,
                        "received_at": at,
                    }
                )
            if len(events) >= BATCH:
                await connection.execute(insert(Event), events)
                events = []
        if events:
            await connection.execute(insert(Event), events)
    return shop_id, lottery_id


async def bench(url: str, entrants: int) -> None:
    database = Database(url)
    try:
        started = time.perf_counter()
        shop_id, lottery_id = await prepare(database, entrants)
        log(f"prepared in {time.perf_counter() - started:.1f} s")
        async with database.sessionmaker() as session:
            lottery = await session.get(Lottery, lottery_id)
            assert lottery is not None
            when = lottery.ends_at + dt.timedelta(seconds=service.DRAW_DELAY_S + 1)
            started = time.perf_counter()
            drawn = await service.draw_lottery(
                session=session, shop_id=shop_id, lottery_id=lottery_id, now=when
            )
            await session.commit()
            draw_s = time.perf_counter() - started
            entrant_count, seed = drawn.entrant_count, drawn.seed
        async with database.sessionmaker() as session:
            started = time.perf_counter()
            record = await service.public_draw(session=session, lottery_id=lottery_id)
            record_s = time.perf_counter() - started
        started = time.perf_counter()
        problems = verify.check(record)
        verify_s = time.perf_counter() - started
        tickets = record["entrants"]
        started = time.perf_counter()
        draw.draw_winners(seed, tickets, 10)
        shuffle_s = time.perf_counter() - started
        load = os.getloadavg()
        print(f"\n{url.split('://')[0]}, {entrants:,} keyword entrants among {entrants * 2:,} "
              f"commenting customers; load average {load[0]:.2f}")  # fmt: skip
        print(
            f"draw_lottery (entrants query, {entrant_count:,} entry rows, 10 prizes) {draw_s:8.2f} s"
        )
        print(f"public_draw (the published record)                      {record_s:8.2f} s")
        print(f"verify.check (recompute from seed and list)             {verify_s:8.3f} s")
        print(f"draw_winners alone (10 of {len(tickets):,})                    {shuffle_s:8.4f} s")
        print(f"verifies: {not problems}")
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entrants", type=int, default=50_000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    url = args.url
    if not url:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'lottery_bench.db'}"
    elif url.startswith("postgresql"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.segments import ensure_database  # the dedicated database, created once

        asyncio.run(ensure_database(url))
    asyncio.run(bench(url, args.entrants))


if __name__ == "__main__":
    main()
