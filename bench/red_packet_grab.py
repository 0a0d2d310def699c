"""A red packet rush: G customers grab at once from a packet of C shares; time the grabs.

    .venv/bin/python bench/red_packet_grab.py                      # SQLite file, 2,000 on 500
    .venv/bin/python bench/red_packet_grab.py --grabbers 5000 --shares 1000 --concurrency 100
    .venv/bin/python bench/red_packet_grab.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_redpacket

Each grab is `grabs.grab_red_packet` in its own session and transaction, as the viewer route
runs it: the conditional UPDATE that takes an open share (FOR UPDATE SKIP LOCKED on
PostgreSQL), the balance credit and the grab event. The rush runs `--concurrency` grabs at a
time until every grabber has tried; the baseline is the same number of grabs one after another
on a fresh packet, so the ratio shows what contention costs. Checks that nothing was taken
twice and that the credits sum to what was grabbed. Prints figures; asserts nothing.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import func, insert, select

from liveloop.core.database import Database
from liveloop.core.errors import Conflict
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.customers.models import Customer
from liveloop.live.redpackets import grabs, service
from liveloop.live.redpackets.models import RedPacketBalanceEntry, RedPacketShare
from liveloop.live.redpackets.schemas import RedPacketCreate
from liveloop.models import Base
from liveloop.shops.models import Shop
from liveloop.shops.service import system_actor

BATCH = 5_000


async def prepare(database: Database, grabbers: int, shares: int) -> tuple[int, list[int], Any]:
    """A shop with `grabbers` customers and a live room. Returns (shop id, customer ids, a
    function that starts a packet of `shares` shares and returns its id)."""
    from tests.factories.live import make_live_session

    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = Shop(name=f"红包压测 {time.time():.0f}")
        session.add(shop)
        await session.flush()
        shop_id = shop.id
        room = await make_live_session(session, shop_id=shop_id, status="live")
        room_id = room.id
        await session.commit()
    async with database.engine.begin() as connection:
        for start in range(0, grabbers, BATCH):
            rows = [
                {"shop_id": shop_id, "display_name": f"观众{n}"}
                for n in range(start, min(start + BATCH, grabbers))
            ]
            await connection.execute(insert(Customer), rows)
    async with database.sessionmaker() as session:
        ids = list(
            (await session.execute(select(Customer.id).where(Customer.shop_id == shop_id)))
            .scalars()
            .all()
        )

    async def start_packet() -> int:
        async with database.sessionmaker() as session:
            actor = system_actor(shop_id, "bench")
            await service.top_up_budget(session=session, actor=actor, amount_fen=shares * 100)
            packet = await service.start_red_packet(
                session=session,
                actor=actor,
                live_session_id=room_id,
                data=RedPacketCreate(
                    total_fen=shares * 100, count=shares, split="lucky", duration_seconds=300
                ),
            )
            await session.commit()
            return packet.id

    return shop_id, ids, start_packet


async def grab_one(database: Database, shop_id: int, packet_id: int, customer_id: int) -> Any:
    started = time.perf_counter()
    async with database.sessionmaker() as session:
        try:
            result = await grabs.grab_red_packet(
                session=session, shop_id=shop_id, red_packet_id=packet_id, customer_id=customer_id
            )
            await session.commit()
            outcome: Any = result.amount_fen
        except Conflict as refused:
            await session.rollback()
            outcome = refused.code
    return outcome, time.perf_counter() - started


async def stop(database: Database, shop_id: int, packet_id: int) -> None:
    """Stop the packet (it has ended by itself when every share went)."""
    async with database.sessionmaker() as session:
        try:
            await service.stop_red_packet(
                session=session, actor=system_actor(shop_id, "bench"), red_packet_id=packet_id
            )
            await session.commit()
        except Conflict:
            await session.rollback()


async def check(database: Database, packet_id: int) -> tuple[int, int, int, int]:
    """(grabbed shares, distinct customers, grabbed fen, credited fen)."""
    async with database.sessionmaker() as session:
        grabbed, customers, fen = (
            await session.execute(
                select(
                    func.count(),
                    func.count(func.distinct(RedPacketShare.customer_id)),
                    func.coalesce(func.sum(RedPacketShare.amount_fen), 0),
                ).where(
                    RedPacketShare.red_packet_id == packet_id, RedPacketShare.state == "grabbed"
                )
            )
        ).one()
        credited = await session.scalar(
            select(func.coalesce(func.sum(RedPacketBalanceEntry.amount_fen), 0)).where(
                RedPacketBalanceEntry.red_packet_id == packet_id
            )
        )
    return int(grabbed), int(customers), int(fen), int(credited or 0)


async def rush(
    database: Database, shop_id: int, packet_id: int, customers: list[int], concurrency: int
) -> tuple[float, list[Any]]:
    gate = asyncio.Semaphore(concurrency)

    async def limited(customer_id: int) -> Any:
        async with gate:
            return await grab_one(database, shop_id, packet_id, customer_id)

    started = time.perf_counter()
    results = await asyncio.gather(*(limited(c) for c in customers))
    return time.perf_counter() - started, list(results)


def summary(label: str, seconds: float, results: list[Any]) -> str:
    won = sum(1 for outcome, _ in results if isinstance(outcome, int))
    latencies = sorted(latency for _, latency in results)
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
    return (
        f"{label:<34} {len(results):>6,} grabs {seconds:7.2f} s  {len(results) / seconds:7.0f}/s"
        f"  won {won:>6,}  p50 {p50:6.1f} ms  p95 {p95:7.1f} ms"
    )


async def bench(url: str, grabbers: int, shares: int, concurrency: int) -> None:
    configure_logging("warning")
    queue.configure(Settings(database_url=url, queue_backend="immediate", log_level="warning"))
    database = Database(url, pool_size=concurrency)
    try:
        shop_id, customers, start_packet = await prepare(database, grabbers, shares)
        # Baseline: as many grabs as the packet has shares, one after another.
        baseline_id = await start_packet()
        sequential: list[Any] = []
        started = time.perf_counter()
        for customer_id in customers[:shares]:
            sequential.append(await grab_one(database, shop_id, baseline_id, customer_id))
        sequential_s = time.perf_counter() - started
        await stop(database, shop_id, baseline_id)
        # The rush: every grabber at once on a new packet.
        packet_id = await start_packet()
        rush_s, results = await rush(database, shop_id, packet_id, customers, concurrency)
        await stop(database, shop_id, packet_id)
        grabbed, distinct, fen, credited = await check(database, packet_id)
        refusals: dict[str, int] = {}
        for outcome, _ in results:
            if not isinstance(outcome, int):
                refusals[outcome] = refusals.get(outcome, 0) + 1
        load = os.getloadavg()
        print(f"\n{url.split('://')[0]}: {grabbers:,} customers, packets of {shares:,} shares; "
              f"concurrency {concurrency}; load average {load[0]:.2f}")  # fmt: skip
        print(summary("sequential (baseline)", sequential_s, sequential))
        print(summary(f"rush, {concurrency} at a time", rush_s, results))
        print(
            f"rush per grab vs sequential: {(rush_s / len(results)) / (sequential_s / shares):.2f}x"
        )
        print(f"refusals: {refusals}")
        print(
            f"shares grabbed {grabbed:,} of {shares:,}; distinct customers {distinct:,}; "
            f"grabbed {fen:,} fen, credited {credited:,} fen; "
            f"consistent: {grabbed == distinct == min(shares, grabbers) and fen == credited}"
        )
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grabbers", type=int, default=2_000)
    parser.add_argument("--shares", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    url = args.url
    if not url:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'red_packet_bench.db'}"
    elif url.startswith("postgresql"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.segments import ensure_database  # the dedicated database, created once

        asyncio.run(ensure_database(url))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    asyncio.run(bench(url, args.grabbers, args.shares, args.concurrency))


if __name__ == "__main__":
    main()
