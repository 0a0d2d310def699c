"""Realtime dashboard refresh for one big session on air: time `realtime_snapshot`, read from the
session's rollups, against the same snapshot computed from the raw events (the baseline).

    .venv/bin/python bench/dashboard.py                        # SQLite: 5,000 viewers, 100,000 events
    .venv/bin/python bench/dashboard.py --viewers 100000 --events 2000000 --skip-sqlite \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_dashboard

The session is bench/reports.py's (2 hours of room events: entries and leaves, comments,
likes, product clicks, a few hundred orders), put back on air and read as of two hours after
it started, so every open visit and series runs to that `now`. `--history` entries of earlier
sessions of the shop are added (many by this session's viewers), which the new/returning
count reads. One refresh is one snapshot in its own unit of work, as the SSE stream takes it; it is
run `--refreshes` times from the rollups and `--baseline-refreshes` times from the events. The
events were bulk-inserted around ingestion, so the rollups must be rebuilt: the first read
finds the session too big to rebuild inside it, queues the rebuild and answers from the
events (the "first read" figure); the job then runs as a worker would (the rebuild figure);
the two snapshots are then compared. Last, `--batches` batches of 1,000 room events
are ingested into the session (each folded into its rollups) and as many into a session
without rollups (stored only), for the fold's cost per batch. The goal is a refresh under
100 ms on PostgreSQL for 100,000 viewers and 2,000,000 events. The bench shop's rows are deleted
afterwards. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reports import BATCH, LENGTH_S, ORDERS, seed
from sqlalchemy import delete, insert, select, update

from liveloop.analytics.realtime import service, tasks
from liveloop.analytics.realtime.models import LiveRollupState
from liveloop.commerce.models import Order
from liveloop.core.database import Database, utcnow
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.events import service as events_service
from liveloop.events.models import Event
from liveloop.live.models import LiveSession
from liveloop.live.service import new_room_code
from liveloop.models import Base
from liveloop.shops.models import Shop


async def put_on_air(database: Database, live_id: int) -> dt.datetime:
    """The reports bench's ended session back on air; the refreshes read it as of LENGTH_S
    after it started (the `now` of the snapshot), so every figure runs up to that moment."""
    async with database.engine.begin() as connection:
        started = (
            await connection.execute(
                select(LiveSession.started_at).where(LiveSession.id == live_id)
            )
        ).scalar_one()
        await connection.execute(
            update(LiveSession)
            .where(LiveSession.id == live_id)
            .values(status="live", ended_at=None)
        )
    return started + dt.timedelta(seconds=LENGTH_S)


async def add_history(database: Database, shop_id: int, live_id: int, history: int) -> None:
    """Entries of earlier sessions of the shop, before this one began."""
    rng = random.Random(5)
    before = utcnow() - dt.timedelta(seconds=LENGTH_S + 86400)
    rows = []
    for n in range(history):
        guest = rng.random() < 0.1
        viewer = rng.randrange(2 * max(1, history))  # many are this session's viewers too
        rows.append({
            "shop_id": shop_id, "type": "live_enter",
            "customer_id": None if guest else 10**9 + viewer,
            "anonymous_id": f"d:bench-{viewer * 10}" if guest else None,
            "live_session_id": 10**12 + n % 30, "product_id": None,
            "properties": {"source_code": "", "share_code": ""},
            "occurred_at": before - dt.timedelta(days=n % 30), "received_at": before,
        })  # fmt: skip
    async with database.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(Event), rows[start : start + BATCH])


async def timed(
    database: Database, shop_id: int, live_id: int, now: dt.datetime, n: int, *, from_events: bool
) -> list[Any]:
    """Seconds of n refreshes, each its own unit of work, and the last body at the end."""
    times: list[Any] = []
    body: Any = None
    for _ in range(n):
        async with database.unit_of_work() as session:
            began = time.perf_counter()
            live = await session.get(LiveSession, live_id)
            assert live is not None and live.shop_id == shop_id
            body = await service.build_snapshot(
                session=session, live_session=live, now=now, from_events=from_events
            )
            times.append(time.perf_counter() - began)
    return [*times, body]


def room_batch(rng: random.Random, live_id: int, now: dt.datetime, viewers: int) -> list[Any]:
    """1,000 room events of the last minute: entries, leaves, comments, likes, clicks."""
    items = []
    for _ in range(1000):
        kind = rng.choices(
            ["live_enter", "live_leave", "live_comment", "live_like", "live_product_click"],
            [2, 2, 3, 2, 1],
        )[0]
        at = now - dt.timedelta(seconds=rng.uniform(0, 60))
        props: dict[str, Any] = {"count": 3} if kind == "live_like" else {}
        if kind == "live_leave":
            props = {"watch_seconds": rng.randrange(30, 600)}
        elif kind == "live_comment":
            props = {"text": "上链接"}
        items.append({
            "type": kind, "customer_id": None, "live_session_id": live_id,
            "anonymous_id": f"d:bench-{rng.randrange(viewers) * 10}",
            "occurred_at": at.isoformat(), "properties": props,
        })  # fmt: skip
    return items


async def fold_cost(
    database: Database, shop_id: int, live_id: int, now: dt.datetime, batches: int
) -> None:
    """Ingest batches into the session (folded) and into one without rollups (stored only)."""
    if batches <= 0:
        return
    async with database.unit_of_work() as session:
        bare = LiveSession(
            shop_id=shop_id, code=new_room_code(), title="bench: no rollups", status="live",
            planned_start=now,
            started_at=now - dt.timedelta(seconds=LENGTH_S),
        )  # fmt: skip
        session.add(bare)
        await session.flush()
        bare_id = bare.id
    figures = {}
    for name, target in (("stored only", bare_id), ("stored and folded", live_id)):
        rng = random.Random(9)
        times = []
        for _ in range(batches):
            items = room_batch(rng, target, now, 100_000)
            async with database.unit_of_work() as session:
                began = time.perf_counter()
                await events_service.ingest_events(
                    session=session, shop_id=shop_id, items=items, mark_customers_active=False
                )
            times.append(time.perf_counter() - began)
            if target == bare_id:  # keep this one without rollups: nothing is folded
                async with database.unit_of_work() as session:
                    await session.execute(
                        delete(LiveRollupState).where(LiveRollupState.live_session_id == bare_id)
                    )
        figures[name] = statistics.median(times) * 1000
    print(f"ingest of 1,000 room events: {figures['stored only']:.0f} ms stored only, "
          f"{figures['stored and folded']:.0f} ms stored and folded into the rollups "
          f"(median of {batches} batches; {figures['stored and folded'] / figures['stored only']:.2f}x)")  # fmt: skip


async def bench(
    url: str,
    viewers: int,
    events: int,
    history: int,
    refreshes: int,
    baseline_refreshes: int,
    batches: int,
) -> None:
    configure_logging("warning")
    jobs_dir = Path(tempfile.mkdtemp(prefix="liveloop-bench-jobs-"))  # queued, run below
    queue.configure(
        Settings(database_url=url, queue_backend="sqlite", var_dir=jobs_dir, log_level="warning")
    )
    database = Database(url)
    shop_id = None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        shop_id, live_id, loaded = await seed(database, viewers, events)
        await add_history(database, shop_id, live_id, history)
        now = await put_on_air(database, live_id)
        if database.dialect == "postgresql":
            async with database.engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE events")
        print(f"\n{url.split('://')[0]}: {viewers:,} viewers, {events:,} events "
              f"(loaded in {loaded:.1f} s), {history:,} earlier entries, "
              f"{min(ORDERS, viewers)} orders")  # fmt: skip
        async with database.unit_of_work() as session:
            began = time.perf_counter()
            first = await service.realtime_snapshot(
                session=session, shop_id=shop_id, live_session_id=live_id, now=now
            )
            read = time.perf_counter() - began
        print(f"first read (the rebuild queued, figures from the events): {read:.1f} s, "
              f"read from {first['read_from']}")  # fmt: skip
        async with database.unit_of_work() as session:
            began = time.perf_counter()
            await tasks.rebuild_rollups.run(
                session=session, shop_id=shop_id, live_session_id=live_id
            )
            built = time.perf_counter() - began
        print(f"rollups rebuilt from the events (background job): {built:.1f} s")
        if database.dialect == "postgresql":  # the statistics autovacuum keeps in production
            async with database.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("ANALYZE")
        times = await timed(database, shop_id, live_id, now, refreshes, from_events=False)
        body = times.pop()
        baseline = await timed(
            database, shop_id, live_id, now, baseline_refreshes, from_events=True
        )
        raw = baseline.pop()
        read_from = (body.pop("read_from"), raw.pop("read_from"))
        ms = sorted(t * 1000 for t in times)
        base_ms = statistics.median(t * 1000 for t in baseline)
        f = body["figures"]
        print(f"dashboard refresh from rollups: first {times[0] * 1000:.1f} ms, median "
              f"{statistics.median(ms):.1f} ms, slowest {ms[-1]:.1f} ms over {refreshes} "
              f"(viewers {f['viewers']:,}, returning {f['returning_viewers']:,}, online "
              f"{f['online']:,}, peak {f['peak_online']:,}, {f['comments']:,} comments, "
              f"{len(body['series']['minutes'])} minutes, {len(body['products'])} products)")  # fmt: skip
        print(f"from the raw events (baseline): median {base_ms:.0f} ms over "
              f"{baseline_refreshes}; rollups {base_ms / statistics.median(ms):.0f}x faster; "
              f"figures equal: {'yes' if body == raw else 'NO'} (read from {' / '.join(read_from)})")  # fmt: skip
        await fold_cost(database, shop_id, live_id, now, batches)
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    finally:
        if shop_id is not None:
            async with database.engine.begin() as connection:
                await connection.execute(delete(Event).where(Event.shop_id == shop_id))
                await connection.execute(delete(Order).where(Order.shop_id == shop_id))
                await connection.execute(delete(Shop).where(Shop.id == shop_id))
        await database.dispose()
        shutil.rmtree(jobs_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=20_000, help="earlier entries")
    parser.add_argument("--refreshes", type=int, default=10)
    parser.add_argument("--baseline-refreshes", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10, help="ingest batches for the fold")
    parser.add_argument("--database-url", default="", help="PostgreSQL (asyncpg) URL")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = (args.viewers, args.events, args.history, args.refreshes,
             args.baseline_refreshes, args.batches)  # fmt: skip
    if not args.skip_sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'dashboard_bench.db'}"
        asyncio.run(bench(url, *sizes))
    if args.database_url:
        from bench.segments import ensure_database  # the dedicated database, created once

        asyncio.run(ensure_database(args.database_url))
        asyncio.run(bench(args.database_url, *sizes))


if __name__ == "__main__":
    main()
