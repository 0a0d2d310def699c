"""Attribution over a month of a shop: time `analytics.attribution.service.compare` (all six
models side by side) for a 30-day range and for one live session.

    .venv/bin/python bench/attribution.py                       # 20,000 customers, 20,000 orders
    .venv/bin/python bench/attribution.py --customers 100000 --orders 100000 --skip-sqlite
    .venv/bin/python bench/attribution.py --skip-postgres

The shop gets 20 ended live sessions over 30 days, each with four entry links (one a KOL's).
Every customer enters 1 to 8 sessions (Core bulk INSERTs into events): a third by an entry
link, a fifth by a broadcast click `bc-…`, some by a share link, the rest with no code; a tenth
arrived by a channel code. The orders are paid, each in one of its customer's sessions a few
minutes after an entry. The data-driven model also reads the non-buyers' journeys. Each
figure is the median of three runs (each its own transaction). PostgreSQL from
LIVELOOP_BENCH_DATABASE_URL (default .../liveloop_bench_attribution, created if missing); the
bench shop's rows are deleted afterwards. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert, select

from liveloop.analytics.attribution import service
from liveloop.analytics.attribution.credit import MODELS
from liveloop.analytics.attribution.journeys import Scope
from liveloop.commerce.models import Order
from liveloop.core.database import Database, utcnow
from liveloop.core.logging import configure_logging
from liveloop.customers.channel_codes.models import ChannelCode, ChannelCodeArrival
from liveloop.customers.models import Customer
from liveloop.events.models import Event
from liveloop.live.models import LiveEntryLink, LiveSession
from liveloop.models import Base
from liveloop.shops.models import Shop

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_attribution"
SESSIONS = 20
DAYS = 30
BATCH = 5_000


async def bulk(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await connection.execute(insert(table), rows[start : start + BATCH])


async def seed(database: Database, customers: int, orders: int) -> tuple[int, int, int, float]:
    rng = random.Random(5)
    run = secrets.token_hex(3)  # codes are unique across shops: fresh ones every run
    now = utcnow().replace(microsecond=0)
    began = time.perf_counter()
    async with database.sessionmaker() as session:
        shop = Shop(name=f"归因压测 {time.time():.0f}")
        session.add(shop)
        await session.flush()
        shop_id = shop.id
        lives = []
        for n in range(SESSIONS):
            starts = now - dt.timedelta(days=DAYS) + dt.timedelta(days=n * DAYS / SESSIONS)
            live = LiveSession(
                shop_id=shop_id, code=f"b{run}{n}", title=f"专场{n}",
                status="ended", planned_start=starts,
                started_at=starts, ended_at=starts + dt.timedelta(hours=2),
            )  # fmt: skip
            session.add(live)
            lives.append(live)
        await session.flush()
        links: dict[int, list[str]] = {}
        for live in lives:
            for channel in ("group", "official_account", "kol", "video_channel"):
                code = f"L{run}{live.id}{channel[:3]}"
                session.add(LiveEntryLink(shop_id=shop_id, live_session_id=live.id, code=code,
                                          channel=channel, label=channel))  # fmt: skip
                links.setdefault(live.id, []).append(code)
        store = ChannelCode(shop_id=shop_id, name="门店码", code=f"S{run}")
        session.add(store)
        await session.commit()
        windows = {live.id: live.started_at for live in lives}
        store_id = store.id
    async with database.engine.begin() as connection:
        await bulk(connection, Customer, [
            {"shop_id": shop_id, "display_name": f"客{n}"} for n in range(customers)
        ])  # fmt: skip
        ids = list((await connection.execute(
            select(Customer.id).where(Customer.shop_id == shop_id).order_by(Customer.id)
        )).scalars())  # fmt: skip
        events, entries = [], []
        for customer_id in ids:
            for live_id in rng.sample(sorted(windows), rng.randint(1, 8)):
                at = windows[live_id] + dt.timedelta(seconds=rng.randrange(7000))
                pick, code, share = rng.random(), "", ""
                if pick < 0.33:
                    code = rng.choice(links[live_id])
                elif pick < 0.53:
                    code = f"bc-{rng.randrange(1, 40)}-{customer_id}"
                elif pick < 0.63:
                    share = f"SH{rng.randrange(500)}"
                events.append({
                    "shop_id": shop_id, "type": "live_enter", "customer_id": customer_id,
                    "live_session_id": live_id, "occurred_at": at, "received_at": at,
                    "properties": {"source_code": code, "share_code": share},
                })  # fmt: skip
                entries.append((customer_id, live_id, at))
        await bulk(connection, Event, events)
        await bulk(connection, ChannelCodeArrival, [
            {"shop_id": shop_id, "channel_code_id": store_id, "customer_id": c, "via": "wecom",
             "arrived_at": now - dt.timedelta(days=DAYS + 5)}
            for c in ids[::10]
        ])  # fmt: skip
        rows = []
        for n, (customer_id, live_id, at) in enumerate(
            rng.sample(entries, min(orders, len(entries)))
        ):
            placed = at + dt.timedelta(seconds=rng.randrange(60, 900))
            fen = rng.randrange(1000, 100000)
            rows.append({
                "shop_id": shop_id, "number": f"B{n}", "customer_id": customer_id,
                "status": "paid", "items_total_fen": fen, "total_fen": fen, "paid_fen": fen,
                "created_at": placed, "updated_at": placed, "paid_at": placed,
                "live_session_id": live_id,
            })  # fmt: skip
        await bulk(connection, Order, rows)
    busiest = max(
        windows, key=lambda live_id: sum(1 for r in rows if r["live_session_id"] == live_id)
    )
    return shop_id, busiest, len(events), time.perf_counter() - began


async def timed(
    database: Database, scope: Scope, models: list[str]
) -> tuple[float, dict[str, Any]]:
    times, body = [], {}
    for _ in range(3):
        async with database.sessionmaker() as session:
            began = time.perf_counter()
            body = await service.compare(
                session=session, scope=scope, models_wanted=models, by="channel",
                options=service.Options(),
            )  # fmt: skip
            times.append(time.perf_counter() - began)
    return statistics.median(times), body


async def bench(url: str, customers: int, orders: int) -> None:
    configure_logging("warning")
    database = Database(url)
    shop_id = None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        shop_id, live_id, events, loaded = await seed(database, customers, orders)
        print(f"\n{url.split('://')[0]}: {customers:,} customers, {events:,} room entries, "
              f"{orders:,} paid orders over {DAYS} days (loaded in {loaded:.1f} s)")  # fmt: skip
        now = utcnow()
        month = Scope(shop_id=shop_id, starts=now - dt.timedelta(days=DAYS + 1), ends=now)
        for label, models in (("all six models", list(MODELS)),
                              ("linear only", ["linear"]),
                              ("data-driven only", ["data_driven"])):  # fmt: skip
            seconds, body = await timed(database, month, models)
            print(f"30-day range, {label}: median {seconds:.2f} s "
                  f"({body['orders']:,} orders, {body['touchpoints']:,} touchpoints)")  # fmt: skip
        async with database.sessionmaker() as session:
            scope = await service.resolve_scope(
                session=session, shop_id=shop_id, live_session_id=live_id,
                date_from=None, date_to=None,
            )  # fmt: skip
        seconds, body = await timed(database, scope, list(MODELS))
        print(f"one live session, all six models: median {seconds:.2f} s "
              f"({body['orders']:,} orders, {body['touchpoints']:,} touchpoints)")  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        if shop_id is not None:
            async with database.engine.begin() as connection:
                for table in (Event, Order, ChannelCodeArrival, ChannelCode, LiveEntryLink,
                              LiveSession, Customer):  # fmt: skip
                    await connection.execute(delete(table).where(table.shop_id == shop_id))
                await connection.execute(delete(Shop).where(Shop.id == shop_id))
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'attribution_bench.db'}"
        asyncio.run(bench(url, args.customers, args.orders))
    if not args.skip_postgres:
        from bench.segments import ensure_database  # the dedicated database, created once

        url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG)
        asyncio.run(ensure_database(url))
        asyncio.run(bench(url, args.customers, args.orders))


if __name__ == "__main__":
    main()
