"""Event ingestion throughput through the service layer, on SQLite and PostgreSQL.

    .venv/bin/python bench/ingest_events.py                  # 1,000,000 events on both
    .venv/bin/python bench/ingest_events.py --count 100000 --backend sqlite

Each batch of 1,000 raw JSON-like items goes through `events_service.ingest_events` in its own
transaction and is committed, as `POST /api/v1/events` does (HTTP and JSON parsing excluded).
Building the items is not timed. Prints events/s and the peak memory of the process.
PostgreSQL: LIVELOOP_BENCH_DATABASE_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/ll_bench_events); the database is created if
missing and its schema rebuilt.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select, text

from liveloop.core.database import Database
from liveloop.customers import service as customers_service
from liveloop.events import service as events_service
from liveloop.events.models import KNOWN_TYPES, Event
from liveloop.models import Base
from liveloop.shops import service as shops_service

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/ll_bench_events"


async def ensure_postgres_database(url: str) -> None:
    import asyncpg

    parts = urlsplit(url.replace("postgresql+asyncpg", "postgresql", 1))
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    connection = await asyncpg.connect(admin)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def build_schema(database: Database) -> None:
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        else:
            await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)


async def seed(database: Database, customers: int) -> tuple[int, list[int]]:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="压测小店")
        ids: list[int] = []
        for start in range(0, customers, 1000):
            pairs = [("wecom", f"wm{n}") for n in range(start, min(start + 1000, customers))]
            resolved = await customers_service.resolve_identities(
                session=session, shop_id=shop.id, identities=pairs
            )
            ids.extend(resolved.values())
        await session.commit()
    async with database.engine.connect() as connection:
        # A live database has statistics; a freshly seeded one needs them for sane plans.
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return shop.id, ids


def make_batch(
    rng: random.Random, start: int, size: int, customer_ids: list[int], client_ids: bool
) -> list[dict[str, object]]:
    base = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    batch: list[dict[str, object]] = []
    for n in range(start, start + size):
        item: dict[str, object] = {
            "type": rng.choice(KNOWN_TYPES),
            "live_session_id": rng.randint(1, 20),
            "occurred_at": (base + dt.timedelta(milliseconds=n)).isoformat(),
            "properties": {"source": "live", "seq": n},
        }
        if rng.random() < 0.7:
            item["customer_id"] = rng.choice(customer_ids)
        else:
            item["anonymous_id"] = f"anon-{rng.randint(1, 50_000)}"
        if rng.random() < 0.3:
            item["product_id"] = rng.randint(1, 200)
        if client_ids:
            item["client_event_id"] = f"evt-{n}"
        batch.append(item)
    return batch


async def run(
    url: str,
    *,
    count: int,
    batch: int,
    customers: int,
    client_ids: bool,
    mark_active: bool,
    concurrency: int,
) -> dict[str, float]:
    database = Database(url, pool_size=max(concurrency, 2))
    try:
        await build_schema(database)
        shop_id, customer_ids = await seed(database, customers)
        rng = random.Random(42)
        elapsed = 0.0
        accepted = 0

        async def ingest(items: list[dict[str, object]]) -> None:
            nonlocal accepted
            async with database.sessionmaker() as session:
                result = await events_service.ingest_events(
                    session=session, shop_id=shop_id, items=items, mark_customers_active=mark_active
                )
                await session.commit()
            if result.errors:
                raise SystemExit(f"unexpected errors: {result.errors[:3]}")
            accepted += result.accepted

        async def worker(queue: list[list[dict[str, object]]]) -> None:
            while queue:
                await ingest(queue.pop())

        # Items are built ahead, 50 batches at a time, outside the timed span.
        chunk = batch * 50
        for chunk_start in range(0, count, chunk):
            chunk_end = min(chunk_start + chunk, count)
            queue = [
                make_batch(rng, start, min(batch, chunk_end - start), customer_ids, client_ids)
                for start in range(chunk_start, chunk_end, batch)
            ]
            queue.reverse()
            began = time.perf_counter()
            await asyncio.gather(*(worker(queue) for _ in range(concurrency)))
            elapsed += time.perf_counter() - began
        async with database.sessionmaker() as session:
            stored = (await session.execute(select(func.count()).select_from(Event))).scalar_one()
        if stored != count or accepted != count:
            raise SystemExit(f"stored {stored}, accepted {accepted}, expected {count}")
        return {"events": count, "seconds": elapsed, "per_second": count / elapsed}
    finally:
        await database.dispose()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--no-client-ids", action="store_true", help="send no client_event_id (no dedup path)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="batches in flight at once (one process)"
    )
    parser.add_argument(
        "--no-mark-active", action="store_true", help="do not move customers' last_active_at"
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"{args.count:,} events in batches of {args.batch:,}, {args.customers:,} customers, "
        f"client ids {'off' if args.no_client_ids else 'on'}, "
        f"mark active {'off' if args.no_mark_active else 'on'}, "
        f"{args.concurrency} batch(es) in flight"
    )
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            else:
                url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG_URL)
                await ensure_postgres_database(url)
            figures = await run(
                url,
                count=args.count,
                batch=args.batch,
                customers=args.customers,
                client_ids=not args.no_client_ids,
                mark_active=not args.no_mark_active,
                # SQLite has one writer at a time: more batches in flight only queue up.
                concurrency=args.concurrency if backend == "postgresql" else 1,
            )
            print(
                f"{backend:>10}: {figures['per_second']:>10,.0f} events/s "
                f"({figures['events']:,} in {figures['seconds']:.1f} s), "
                f"peak RSS so far {peak_rss_mb():.0f} MB"
            )


if __name__ == "__main__":
    asyncio.run(main())
