"""Purchase funnel queries over a big shop: time `analytics.funnels.service.funnel` and a page
of `dropoffs` (with reasons) for one session and for a date range.

    .venv/bin/python bench/funnel.py                                   # 1,000,000 events
    .venv/bin/python bench/funnel.py --events 10000000 --skip-sqlite
    .venv/bin/python bench/funnel.py --events 200000 --skip-postgres

The room events come from bench/reports.py's generator (one ended 2-hour session: every viewer
enters and leaves, a fifth twice; comments, likes and product-card clicks fill the rest), with
add-to-cart events for a fifth of the clicks (price in the properties) and a few hundred orders
of the session (two in three paid). PostgreSQL rows go in by COPY, SQLite by executemany, then
the planner's statistics are refreshed. Each query runs three times in its own transaction
(the first reads cold-ish pages). PostgreSQL from LIVELOOP_BENCH_DATABASE_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_funnel, created if missing); the
bench shop's rows are deleted afterwards. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reports import LENGTH_S, room_events
from sqlalchemy import delete, insert, text

from liveloop.analytics.funnels import service
from liveloop.analytics.funnels.steps import FunnelSpec, Scope, parse_spec
from liveloop.commerce.models import Order
from liveloop.core.database import Database, utcnow
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.events.models import Event
from liveloop.models import Base
from liveloop.shops.models import Shop
from liveloop.shops.service import system_actor

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_funnel"
BATCH = 20_000
ORDERS = 300
COLUMNS = ("shop_id", "type", "customer_id", "anonymous_id", "live_session_id", "product_id",
           "properties", "occurred_at", "received_at")  # fmt: skip


def with_carts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A fifth of the product clicks are followed by an add-to-cart 30 s later (in place of
    a like, so the event count stays what was asked)."""
    rng = random.Random(7)
    out = []
    for row in rows:
        if row["type"] == "live_like" and out and rng.random() < 0.15:
            click = next(
                (r for r in reversed(out[-50:]) if r["type"] == "live_product_click"), None
            )
            if click is not None and click["customer_id"] is not None:
                row = {**click, "type": "add_to_cart",
                       "properties": {"quantity": 1, "price_fen": 12900},
                       "occurred_at": click["occurred_at"] + dt.timedelta(seconds=30)}  # fmt: skip
        out.append(row)
    return out


async def seed(database: Database, viewers: int, events: int) -> tuple[int, int, float, Any]:
    from tests import factories
    from tests.factories.live import make_live_session

    async with database.sessionmaker() as session:
        shop = Shop(name=f"漏斗压测 {time.time():.0f}")
        session.add(shop)
        await session.flush()
        products = [
            await factories.make_product(session, shop_id=shop.id, name=f"茶{n}", price_fen=12900)
            for n in range(8)
        ]
        live = await make_live_session(session, shop_id=shop.id, status="ended",
                                       product_ids=[p.id for p in products])  # fmt: skip
        t0 = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
        live.started_at, live.ended_at = t0, t0 + dt.timedelta(seconds=LENGTH_S)
        customers = [
            (await factories.make_customer(session, shop_id=shop.id, name=f"客{n}")).id
            for n in range(min(ORDERS, viewers))
        ]
        for n, customer_id in enumerate(customers):
            order = await factories.make_order(
                session, shop_id=shop.id, customer_id=customer_id,
                lines=[(products[n % len(products)].skus[0].id, 1)], live_session_id=live.id,
            )  # fmt: skip
            order.created_at = t0 + dt.timedelta(seconds=600 + n)
            if n % 3:
                order.status, order.paid_fen = "paid", order.total_fen
                order.paid_at = order.created_at + dt.timedelta(seconds=60)
        await session.commit()
        shop_id, live_id = shop.id, live.id
        product_ids = [p.id for p in products]
    pool = customers + list(range(10**9, 10**9 + viewers))
    rows = with_carts(room_events(shop_id, live_id, t0, pool, ["none"], product_ids, viewers,
                                  events))  # fmt: skip
    began = time.perf_counter()
    if database.engine.dialect.name == "postgresql":
        async with database.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            for start in range(0, len(rows), 200_000):
                records = [
                    (r["shop_id"], r["type"], r["customer_id"], r["anonymous_id"],
                     r["live_session_id"], r["product_id"], json.dumps(r["properties"]),
                     r["occurred_at"], r["received_at"])
                    for r in rows[start : start + 200_000]
                ]  # fmt: skip
                await driver.copy_records_to_table("events", records=records, columns=COLUMNS)
            await connection.execute(text("ANALYZE events"))
            await connection.commit()
    else:
        async with database.engine.begin() as connection:
            for start in range(0, len(rows), BATCH):
                await connection.execute(insert(Event), rows[start : start + BATCH])
            await connection.execute(text("ANALYZE"))
    return shop_id, live_id, time.perf_counter() - began, t0


async def timed(database: Database, label: str, work: Any) -> Any:
    times, result = [], None
    for _ in range(3):
        async with database.sessionmaker() as session:
            began = time.perf_counter()
            result = await work(session)
            await session.rollback()
            times.append(time.perf_counter() - began)
    print(f"  {label}: first {times[0]:.2f} s, then median {statistics.median(times[1:]):.2f} s")
    return result


async def bench(url: str, viewers: int, events: int, keep: bool = False) -> None:
    configure_logging("warning")
    queue.configure(Settings(database_url=url, queue_backend="immediate", log_level="warning"))
    database = Database(url)
    shop_id = None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        shop_id, live_id, loaded, t0 = await seed(database, viewers, events)
        print(f"\n{url.split('://')[0]}: {viewers:,} viewers, {events:,} events "
              f"(loaded in {loaded:.1f} s), {min(ORDERS, viewers)} orders")  # fmt: skip
        spec = parse_spec(None, None)
        live_scope = Scope(shop_id=shop_id, starts=t0, ends=t0 + dt.timedelta(seconds=LENGTH_S),
                           live_session_id=live_id)  # fmt: skip
        day = Scope(shop_id=shop_id, starts=t0 - dt.timedelta(hours=1),
                    ends=t0 + dt.timedelta(hours=23))  # fmt: skip
        actor = system_actor(shop_id)

        def run_funnel(scope: Scope, breakdown: str | None = None) -> Any:
            return lambda s: service.funnel(session=s, scope=scope, spec=spec, breakdown=breakdown)

        body = await timed(database, "session funnel (5 steps)", run_funnel(live_scope))
        print(f"    counts {[f['count'] for f in body['figures']]}")
        await timed(database, "date-range funnel (5 steps)", run_funnel(day))
        await timed(database, "session funnel by source", run_funnel(live_scope, "source"))
        drops = await timed(
            database,
            "100 drop-offs at added_to_cart with reasons",
            lambda s: service.dropoffs(session=s, actor=actor, scope=live_scope, spec=spec,
                                       step="added_to_cart", limit=100),
        )  # fmt: skip
        print(f"    {drops['total']:,} dropped there")
        short = FunnelSpec(("entered_room", "paid"), spec.window_s)
        await timed(
            database, "entered → paid funnel",
            lambda s: service.funnel(session=s, scope=live_scope, spec=short),
        )  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        if shop_id is not None and not keep:
            async with database.engine.begin() as connection:
                await connection.execute(delete(Event).where(Event.shop_id == shop_id))
                await connection.execute(delete(Order).where(Order.shop_id == shop_id))
                await connection.execute(delete(Shop).where(Shop.id == shop_id))
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--viewers", type=int, default=None, help="default: events / 20")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the bench shop's rows")
    args = parser.parse_args()
    viewers = args.viewers or max(10, args.events // 20)
    if not args.skip_sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'funnel_bench.db'}"
        asyncio.run(bench(url, viewers, args.events, args.keep))
    if not args.skip_postgres:
        from bench.segments import ensure_database

        url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG)
        asyncio.run(ensure_database(url))
        asyncio.run(bench(url, viewers, args.events, args.keep))


if __name__ == "__main__":
    main()
