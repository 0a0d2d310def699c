"""Post-live report generation for one big session: time `analytics.service.generate_live_report`.

    .venv/bin/python bench/reports.py                          # 5,000 viewers, 100,000 events
    .venv/bin/python bench/reports.py --viewers 100000 --events 2000000 --skip-sqlite
    .venv/bin/python bench/reports.py --skip-postgres

One ended session of 2 hours is filled with Core bulk INSERTs: every viewer enters once (a
fifth come back for a second visit; a tenth are guests, the rest customers; a third arrive by
one of four entry links, some by a share link) and leaves, and the remaining events are
comments (jieba cuts them), likes and product clicks spread over the session. A few hundred
paid orders of the session are written too, so the consumption and users sections have rows to
read. The report is then generated three times (each its own transaction; the first reads
cold-ish pages) and each section is timed once; on PostgreSQL the tables are ANALYZEd after the load
first, as autovacuum would have (without it the planner's plans cost 10 s more). The events
were bulk-inserted around ingestion, so the session has no rollups and the viewing section
reads the events; then the rollups are rebuilt (what ingestion would have kept all along) and
the report is generated again, its viewing figures read from them, and compared with the first.
PostgreSQL from LIVELOOP_BENCH_DATABASE_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_reports, created if missing); the
bench shop's rows are deleted afterwards. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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

from sqlalchemy import delete, insert, select

from liveloop.analytics import service
from liveloop.analytics.audience import users_section
from liveloop.analytics.consumption import consumption_section
from liveloop.analytics.expressions import epoch_of
from liveloop.analytics.interaction import interaction_section
from liveloop.analytics.realtime import rollups
from liveloop.analytics.viewing import Window, viewing_section
from liveloop.commerce.models import Order
from liveloop.core.database import Database, utcnow
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.events.models import Event
from liveloop.live.models import LiveEntryLink, LiveSession
from liveloop.live.schemas import EntryLinkCreate
from liveloop.models import Base
from liveloop.shops.models import Shop
from liveloop.shops.service import system_actor

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_reports"
LENGTH_S = 2 * 3600
BATCH = 5_000
ORDERS = 300
COMMENTS = [
    "主播好！", "这个龙井多少钱？", "上链接", "已下单", "有优惠券吗", "包邮吗？", "好喝！回购了",
    "能冷泡吗", "大红袍还有货吗", "求讲讲怎么泡", "茶具好看", "已拍两盒", "新客有福利吗",
]  # fmt: skip


def room_events(
    shop_id: int, live_id: int, t0: dt.datetime, customers: list[int], codes: list[str],
    product_ids: list[int], viewers: int, events: int,
) -> list[dict[str, Any]]:  # fmt: skip
    rng = random.Random(11)
    rows: list[dict[str, Any]] = []
    spans: list[tuple[int | None, str | None, int, int]] = []

    def add(kind: str, who: tuple[int | None, str | None], at: int, **props: Any) -> None:
        rows.append({
            "shop_id": shop_id, "type": kind, "customer_id": who[0], "anonymous_id": who[1],
            "live_session_id": live_id, "product_id": props.pop("product_id", None),
            "properties": props, "occurred_at": t0 + dt.timedelta(seconds=at), "received_at": t0,
        })  # fmt: skip

    for n in range(viewers):
        who = (None, f"d:bench-{n}") if n % 10 == 0 else (customers[n % len(customers)], None)
        for visit in range(2 if rng.random() < 0.2 else 1):
            enter = min(LENGTH_S - 30, int(rng.expovariate(1 / 1500)) + visit * 1800)
            stay = min(LENGTH_S - enter, int(rng.expovariate(1 / 1400)) + 20)
            code = rng.choice(codes) if rng.random() < 0.33 else ""
            share = "BENCHSHARE" if not code and rng.random() < 0.1 else ""
            add("live_enter", who, enter, source_code=code, share_code=share)
            add("live_leave", who, enter + stay, watch_seconds=stay, reason="closed")
            spans.append((*who, enter, stay))
    while len(rows) < events:
        customer_id, anonymous_id, enter, stay = rng.choice(spans)
        who, at = (customer_id, anonymous_id), enter + rng.randrange(max(1, stay))
        pick = rng.random()
        if pick < 0.5:
            add("live_comment", who, at, text=rng.choice(COMMENTS), shown=True)
        elif pick < 0.8:
            add("live_like", who, at, count=rng.randrange(1, 30))
        else:
            add("live_product_click", who, at, product_id=rng.choice(product_ids))
    return rows[: max(events, 2 * viewers)]


async def seed(database: Database, viewers: int, events: int) -> tuple[int, int, float]:
    from tests import factories
    from tests.factories.live import make_live_session

    from liveloop.live import service as live_service

    async with database.sessionmaker() as session:
        shop = Shop(name=f"报告压测 {time.time():.0f}")
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
        actor = system_actor(shop.id)
        for channel in ("group", "official_account", "kol", "video_channel"):
            await live_service.create_entry_link(
                session=session, actor=actor, live_session=live,
                data=EntryLinkCreate(channel=channel, label=channel),
            )  # fmt: skip
        codes = list((await session.execute(
            select(LiveEntryLink.code).where(LiveEntryLink.live_session_id == live.id))).scalars())  # fmt: skip
        customers = [
            (await factories.make_customer(session, shop_id=shop.id, name=f"客{n}")).id
            for n in range(min(ORDERS, viewers))
        ]
        for n, customer_id in enumerate(customers):
            order = await factories.make_order(
                session, shop_id=shop.id, customer_id=customer_id,
                lines=[(products[n % len(products)].skus[0].id, 1)], live_session_id=live.id,
            )  # fmt: skip
            if n % 3:
                order.status, order.paid_at, order.paid_fen = "paid", t0, order.total_fen
        await session.commit()
        shop_id, live_id = shop.id, live.id
        product_ids = [p.id for p in products]
    # Customer ids beyond the few hundred made above: the report only groups by them.
    pool = customers + list(range(10**9, 10**9 + viewers))
    rows = room_events(shop_id, live_id, t0, pool, codes, product_ids, viewers, events)
    began = time.perf_counter()
    async with database.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(Event), rows[start : start + BATCH])
    return shop_id, live_id, time.perf_counter() - began


async def section_times(
    database: Database, shop_id: int, live_id: int, uv: int, *, from_rollups: bool = False
) -> None:
    """Each section of the report once, on its own: where the generation's time goes."""
    async with database.sessionmaker() as session:
        live = await session.get(LiveSession, live_id)
        assert live is not None
        starts, ends = service.report_window(live, utcnow())
        window = Window(epoch_of(starts), epoch_of(ends))
        ids = {"session": session, "shop_id": shop_id, "live_session_id": live_id}

        async def viewing() -> Any:
            figures = None
            if from_rollups:
                figures = await rollups.viewing_figures(session, live, window.start, window.end)
            return await viewing_section(**ids, window=window, figures=figures)

        sections = {
            "viewing": viewing,
            "interaction": lambda: interaction_section(**ids, window=window, uv=uv),
            "consumption": lambda: consumption_section(**ids, uv=uv),
            "users": lambda: users_section(**ids, starts=starts, ends=ends),
        }
        spent = []
        for name, section in sections.items():
            began = time.perf_counter()
            await section()
            spent.append(f"{name} {time.perf_counter() - began:.2f} s")
    print("sections: " + ", ".join(spent))


async def generations(database: Database, shop_id: int, live_id: int, label: str) -> Any:
    """Generate the report three times, each in its own transaction; the last body."""
    times = []
    for _ in range(3):
        async with database.sessionmaker() as session:
            began = time.perf_counter()
            report = await service.generate_live_report(
                session=session, shop_id=shop_id, live_session_id=live_id
            )
            await session.commit()
            times.append(time.perf_counter() - began)
    viewing = report.body["viewing"]
    print(f"report generation, {label}: first {times[0]:.2f} s, then median "
          f"{statistics.median(times[1:]):.2f} s  (UV {viewing['uv']:,}, PV {viewing['pv']:,},"
          f" peak {viewing['peak_online']:,}, {len(viewing['retention'])} retention points,"
          f" {report.body['interaction']['comments']:,} comments)")  # fmt: skip
    return report.body


async def bench(url: str, viewers: int, events: int, rebuild: bool) -> None:
    configure_logging("warning")
    queue.configure(Settings(database_url=url, queue_backend="immediate", log_level="warning"))
    database = Database(url)
    shop_id = None
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        shop_id, live_id, loaded = await seed(database, viewers, events)
        if database.dialect == "postgresql":  # the statistics autovacuum keeps in production
            async with database.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("ANALYZE")
        print(f"\n{url.split('://')[0]}: {viewers:,} viewers, {events:,} events "
              f"(loaded in {loaded:.1f} s), {min(ORDERS, viewers)} orders")  # fmt: skip
        body = await generations(database, shop_id, live_id, "from the events")
        await section_times(database, shop_id, live_id, int(body["viewing"]["uv"]))
        if rebuild:
            async with database.unit_of_work() as session:
                began = time.perf_counter()
                await rollups.rebuild(session, shop_id=shop_id, live_session_id=live_id)
            print(f"rollups rebuilt from the events: {time.perf_counter() - began:.1f} s "
                  f"(once; ingestion keeps them from then on)")  # fmt: skip
            folded = await generations(database, shop_id, live_id, "viewing from the rollups")
            await section_times(
                database, shop_id, live_id, int(body["viewing"]["uv"]), from_rollups=True
            )
            print(f"reports equal: {'yes' if folded == body else 'NO'}")
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        if shop_id is not None:
            async with database.engine.begin() as connection:
                await connection.execute(delete(Event).where(Event.shop_id == shop_id))
                await connection.execute(delete(Order).where(Order.shop_id == shop_id))
                await connection.execute(delete(Shop).where(Shop.id == shop_id))
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--skip-rollups", action="store_true", help="only the report from the raw events"
    )
    args = parser.parse_args()
    if not args.skip_sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'report_bench.db'}"
        asyncio.run(bench(url, args.viewers, args.events, not args.skip_rollups))
    if not args.skip_postgres:
        from bench.segments import ensure_database  # the dedicated database, created once

        url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG)
        asyncio.run(ensure_database(url))
        asyncio.run(bench(url, args.viewers, args.events, not args.skip_rollups))


if __name__ == "__main__":
    main()
