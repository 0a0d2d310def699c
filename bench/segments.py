"""Segments on PostgreSQL at scale: count and first page of a mixed segment; nightly recompute.

    .venv/bin/python bench/segments.py                      # 1,000,000 customers, 20,000,000 events
    .venv/bin/python bench/segments.py --customers 100000 --events 2000000   # a quick run
    .venv/bin/python bench/segments.py --recompute          # also time the nightly recompute
    .venv/bin/python bench/segments.py --explain            # also print the count's plan

The data is generated inside PostgreSQL (generate_series, INSERT ... SELECT; events written in
time order, as an append-only log is) into a dedicated database, LIVELOOP_BENCH_DATABASE_URL
(default postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench), and reused by later runs
of the same size (--regenerate forces a rebuild). The timed segment mixes a tag, a behaviour
window and an RFM condition:

    all: [ tags has_any [VIP客户],
           event product_view at least 2 times in the last 30 days,
           rfm segment in (important_value, important_keep, at_risk) ]

Timings are wall-clock seconds of the whole statement seen from Python (asyncpg), each run
several times; the first run reads cold-ish pages. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Table, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from liveloop.core.database import Database
from liveloop.customers.models import Customer
from liveloop.customers.segments.compiler import compile_filter
from liveloop.customers.segments.filters import parse_filter
from liveloop.models import Base

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench"
SHOP_NAME = "人群压测小店"
EVENT_TYPES = ("view", "product_view", "like", "comment", "share", "add_to_cart", "live_enter")
CITIES = ("上海", "北京", "杭州", "广州", "深圳", "成都", "南京", "苏州", "武汉", "西安")
RFM_SEGMENTS = (
    "important_value",
    "important_keep",
    "important_develop",
    "important_retain",
    "general_value",
    "general_keep",
    "general_develop",
    "general_retain",
)
SPAN_DAYS = 180
CHUNK = 2_000_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def ensure_database(url: str) -> None:
    import asyncpg

    parts = urlsplit(url.replace("postgresql+asyncpg", "postgresql", 1))
    name = parts.path.lstrip("/")
    connection = await asyncpg.connect(parts._replace(path="/postgres").geturl())
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def _default_sql(column: Any) -> str | None:
    """A SQL literal for a column's Python-side default (what the ORM would have sent)."""
    default = column.default
    if default is None:
        return None
    arg = default.arg
    if callable(arg):
        name = getattr(arg, "__name__", "")
        if name in ("utcnow", "now"):
            return "now()"
        if name in ("dict", "list") or "dict" in repr(arg) or "list" in repr(arg):
            return "'{}'::jsonb" if "dict" in repr(arg) else "'[]'::jsonb"
        return None
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, int):
        return str(arg)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    return None


def insert_select(table: Table, values: dict[str, str], source: str) -> str:
    """INSERT INTO table (...) SELECT ... FROM source, filling NOT NULL columns from defaults.

    Only for this benchmark's own generated data: every expression here is a constant of this
    file, never input.
    """
    columns = dict(values)
    for column in table.columns:
        if (
            column.name in columns
            or column.nullable
            or (column.primary_key and column.autoincrement)
        ):
            continue
        sql = _default_sql(column)
        if sql is not None:
            columns[column.name] = sql
    names = ", ".join(columns)
    exprs = ", ".join(columns.values())
    return f"INSERT INTO {table.name} ({names}) SELECT {exprs} FROM {source}"


async def existing(database: Database, customers: int, events: int) -> int | None:
    async with database.engine.connect() as connection:
        found = await connection.execute(
            text("SELECT to_regclass('bench_segments_meta') IS NOT NULL")
        )
        if not found.scalar_one():
            return None
        row = (
            await connection.execute(
                text("SELECT shop_id, customers, events FROM bench_segments_meta")
            )
        ).first()
    if row is None or row.customers != customers or row.events != events:
        return None
    return int(row.shop_id)


async def generate(database: Database, customers: int, events: int) -> int:
    tables = Base.metadata.tables
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
        await connection.run_sync(Base.metadata.create_all)
    started = time.perf_counter()
    async with database.engine.begin() as c:
        shop_id = (
            await c.execute(
                text(
                    "INSERT INTO shops (name, timezone, currency, created_at, updated_at) "
                    "VALUES (:name, 'Asia/Shanghai', 'CNY', now(), now()) RETURNING id"
                ),
                {"name": SHOP_NAME},
            )
        ).scalar_one()
        cities = "ARRAY[" + ", ".join(f"'{city}'" for city in CITIES) + "]"
        log(f"customers: {customers:,}")
        await c.execute(
            text(
                insert_select(
                    tables["customers"],
                    {
                        "shop_id": str(shop_id),
                        "display_name": "'客户' || g",
                        "gender": "(ARRAY['male','female','other'])[1 + g % 3]",
                        "province": "'省份'",
                        "city": f"({cities})[1 + floor(random() * {len(CITIES)})::int]",
                        "source_channel": "'wecom'",
                        "first_seen_at": f"now() - random() * interval '{SPAN_DAYS * 2} days'",
                        "last_active_at": f"now() - random() * interval '{SPAN_DAYS} days'",
                        "status": "'active'",
                    },
                    f"generate_series(1, {customers}) AS g",
                )
            )
        )
        low, high = (await c.execute(text("SELECT min(id), max(id) FROM customers"))).one()
        span = high - low + 1
        log("tags")
        tag_ids = []
        for n, (name, share) in enumerate(
            [("VIP客户", 0.10), ("直播常客", 0.15), ("高客单", 0.05), ("新客", 0.20)]
            + [(f"兴趣{n}", 0.03) for n in range(16)]
        ):
            tag_id = (
                await c.execute(
                    text(
                        "INSERT INTO tags (shop_id, name, created_at, updated_at) "
                        "VALUES (:shop, :name, now(), now()) RETURNING id"
                    ),
                    {"shop": shop_id, "name": name},
                )
            ).scalar_one()
            tag_ids.append(tag_id)
            await c.execute(
                text(
                    "INSERT INTO customer_tags (shop_id, customer_id, tag_id, source, tagged_at) "
                    "SELECT :shop, id, :tag, 'manual', now() FROM customers "
                    "WHERE shop_id = :shop AND random() < :share"
                ),
                {"shop": shop_id, "tag": tag_id, "share": share},
            )
            del n
        log("RFM and lifecycle rows")
        segments = "ARRAY[" + ", ".join(f"'{s}'" for s in RFM_SEGMENTS) + "]"
        await c.execute(
            text(
                "INSERT INTO customer_rfm (shop_id, customer_id, recency_days, frequency, "
                "monetary_fen, r_score, f_score, m_score, segment, computed_at) "
                "SELECT shop_id, id, floor(random() * 365)::int, floor(random() * 10)::int, "
                "floor(random() * 500000)::bigint, 1 + floor(random() * 5)::int, "
                "1 + floor(random() * 5)::int, 1 + floor(random() * 5)::int, "
                f"({segments})[1 + floor(random() * {len(RFM_SEGMENTS)})::int], now() "
                "FROM customers WHERE shop_id = :shop"
            ),
            {"shop": shop_id},
        )
        await c.execute(
            text(
                "INSERT INTO customer_lifecycle (shop_id, customer_id, stage, since) "
                "SELECT shop_id, id, (ARRAY['new','active','high_value','at_risk','churned'])"
                "[1 + floor(random() * 5)::int], now() FROM customers WHERE shop_id = :shop"
            ),
            {"shop": shop_id},
        )
        log("live sessions and viewers")
        session_ids = []
        for n in range(40):
            start = f"now() - interval '{(40 - n) * 4} days'"
            session_ids.append(
                (
                    await c.execute(
                        text(
                            insert_select(
                                tables["live_sessions"],
                                {
                                    "shop_id": str(shop_id),
                                    "code": f"'bs{shop_id}x{n}'",
                                    "title": f"'压测专场{n}'",
                                    "planned_start": start,
                                    "started_at": start,
                                    "ended_at": f"{start} + interval '2 hours'",
                                    "status": "'ended'",
                                },
                                "(SELECT 1) AS one",
                            )
                            + " RETURNING id"
                        )
                    )
                ).scalar_one()
            )
        for n, session_id in enumerate(session_ids):
            await c.execute(
                text(
                    insert_select(
                        tables["live_viewers"],
                        {
                            "shop_id": str(shop_id),
                            "live_session_id": str(session_id),
                            "viewer_key": "'c:' || cid",
                            "customer_id": "cid",
                            "first_entered_at": f"now() - interval '{(40 - n) * 4} days'",
                            "last_seen_at": f"now() - interval '{(40 - n) * 4} days'",
                            "watch_seconds": "floor(random() * 3600)::int",
                            "comments": "CASE WHEN random() < 0.2 THEN 1 ELSE 0 END",
                        },
                        f"(SELECT DISTINCT {low} + floor(random() * {span})::bigint AS cid "
                        f"FROM generate_series(1, {max(customers // 40, 10)})) AS v",
                    )
                )
            )
        log("orders")
        orders = max(customers // 2, 10)
        await c.execute(
            text(
                insert_select(
                    tables["orders"],
                    {
                        "shop_id": str(shop_id),
                        "number": "'B' || g",
                        "customer_id": f"{low} + floor(random() * {span})::bigint",
                        "status": "(ARRAY['completed','completed','paid','shipped','closed'])"
                        "[1 + floor(random() * 5)::int]",
                        "items_total_fen": "amount",
                        "total_fen": "amount",
                        "paid_fen": "amount",
                        "paid_at": "at",
                        "created_at": "at",
                        "updated_at": "at",
                        "live_session_id": "CASE WHEN random() < 0.5 THEN "
                        f"(ARRAY[{', '.join(map(str, session_ids))}])[1 + floor(random() * "
                        f"{len(session_ids)})::int] END",
                    },
                    f"(SELECT g, (1000 + floor(random() * 100000))::bigint AS amount, "
                    f"now() - random() * interval '{SPAN_DAYS * 2} days' AS at "
                    f"FROM generate_series(1, {orders}) AS g) AS o",
                )
            )
        )
        log("tiers and points")
        tiers = []
        for level, name in enumerate(("银卡", "金卡", "钻石卡"), start=1):
            tiers.append(
                (
                    await c.execute(
                        text(
                            "INSERT INTO member_tiers (shop_id, name, level, benefits, "
                            "created_at, updated_at) VALUES (:shop, :name, :level, '{}', "
                            "now(), now()) RETURNING id"
                        ),
                        {"shop": shop_id, "name": name, "level": level},
                    )
                ).scalar_one()
            )
        await c.execute(
            text(
                "INSERT INTO customer_points (shop_id, customer_id, balance, lifetime_earned, "
                "tier_id, updated_at) SELECT shop_id, id, floor(random() * 5000)::bigint, 0, "
                f"(ARRAY[{', '.join(map(str, tiers))}])[1 + floor(random() * 3)::int], now() "
                "FROM customers WHERE shop_id = :shop AND random() < 0.3"
            ),
            {"shop": shop_id},
        )
    # Events: without their indexes while loading, in time order, then indexed.
    async with database.engine.begin() as c:
        index_sql = [
            row.indexdef
            for row in (
                await c.execute(
                    text(
                        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' "
                        "AND indexname <> 'pk_events'"
                    )
                )
            )
        ]
        constraints = [
            row.conname
            for row in await c.execute(
                text(
                    "SELECT conname FROM pg_constraint WHERE conrelid = 'events'::regclass "
                    "AND contype = 'u'"
                )
            )
        ]
        for name in constraints:
            await c.execute(text(f'ALTER TABLE events DROP CONSTRAINT "{name}"'))
        for row in await c.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'events' "
                "AND indexname <> 'pk_events'"
            )
        ):
            await c.execute(text(f'DROP INDEX IF EXISTS "{row.indexname}"'))
    seconds_per_event = SPAN_DAYS * 86400 / events
    for start in range(0, events, CHUNK):
        size = min(CHUNK, events - start)
        log(f"events {start:,}..{start + size:,} of {events:,}")
        async with database.engine.begin() as c:
            await c.execute(
                text(
                    "INSERT INTO events (shop_id, type, customer_id, product_id, live_session_id, "
                    "properties, occurred_at, received_at) "
                    f"SELECT {shop_id}, (ARRAY[{', '.join(repr(t) for t in EVENT_TYPES)}])"
                    f"[1 + floor(random() * {len(EVENT_TYPES)})::int], "
                    f"{low} + floor(random() * {span})::bigint, "
                    "CASE WHEN random() < 0.4 THEN 1 + floor(random() * 200)::bigint END, NULL, "
                    "jsonb_build_object('category', (ARRAY['茶叶','茶具','点心'])"
                    "[1 + floor(random() * 3)::int]), "
                    f"now() - interval '{SPAN_DAYS} days' + g * interval '{seconds_per_event} "
                    "seconds', now() "
                    f"FROM generate_series({start + 1}, {start + size}) AS g"
                )
            )
    log("indexing events")
    async with database.engine.begin() as c:
        for sql in index_sql:
            await c.execute(text(sql))
    async with database.engine.connect() as c:
        autocommit = await c.execution_options(isolation_level="AUTOCOMMIT")
        log("VACUUM ANALYZE")
        await autocommit.execute(text("VACUUM ANALYZE"))
    async with database.engine.begin() as c:
        await c.execute(
            text(
                "CREATE TABLE bench_segments_meta (shop_id bigint, customers bigint, events bigint)"
            )
        )
        await c.execute(
            text("INSERT INTO bench_segments_meta VALUES (:shop, :customers, :events)"),
            {"shop": shop_id, "customers": customers, "events": events},
        )
    log(f"generated in {time.perf_counter() - started:,.0f} s")
    return int(shop_id)


def mixed_filter(vip_tag_id: int) -> dict[str, Any]:
    return {
        "all": [
            {"kind": "tags", "op": "has_any", "tag_ids": [vip_tag_id]},
            {
                "kind": "event",
                "type": "product_view",
                "count": {"op": "at_least", "value": 2},
                "window": {"last_days": 30},
            },
            {"kind": "rfm", "segments": ["important_value", "important_keep", "at_risk"]},
        ]
    }


async def timed(database: Database, statement: Any, repeat: int) -> tuple[list[float], Any]:
    runs = []
    result = None
    for _ in range(repeat):
        async with database.engine.connect() as connection:
            began = time.perf_counter()
            result = (await connection.execute(statement)).all()
            runs.append(time.perf_counter() - began)
    return runs, result


def show(label: str, runs: list[float], extra: str = "") -> None:
    listed = ", ".join(f"{r:.3f}" for r in runs)
    print(f"{label:<34} median {statistics.median(runs):7.3f} s   runs [{listed}] {extra}")


async def bench_segment(database: Database, shop_id: int, repeat: int, explain: bool) -> None:
    async with database.engine.connect() as connection:
        vip = (
            await connection.execute(
                text("SELECT id FROM tags WHERE shop_id = :shop AND name = 'VIP客户'"),
                {"shop": shop_id},
            )
        ).scalar_one()
    parsed = parse_filter(mixed_filter(vip))
    ids = compile_filter(parsed, shop_id=shop_id, now=dt.datetime.now(dt.UTC))
    count_statement = select(func.count()).select_from(ids.subquery())
    runs, rows = await timed(database, count_statement, repeat)
    show("count (tag + behaviour + RFM)", runs, f"→ {rows[0][0]:,} customers")
    page = (
        select(Customer.id, Customer.display_name, Customer.city)
        .where(Customer.id.in_(ids))
        .order_by(Customer.id)
        .limit(50)
    )
    runs, rows = await timed(database, page, repeat)
    show("first page (50, by id)", runs, f"→ {len(rows)} rows")
    try:
        service = importlib.import_module("liveloop.customers.segments.service")
    except ImportError:
        service = None
    if service is not None and hasattr(service, "count_segment"):
        from liveloop.customers.segments.models import Segment

        async with database.sessionmaker() as session:
            segment = Segment(
                shop_id=shop_id, name=f"bench {time.time()}", filter=mixed_filter(vip)
            )
            session.add(segment)
            await session.commit()
            segment_id = segment.id
        try:
            runs = []
            for _ in range(repeat):
                async with database.sessionmaker() as session:
                    began = time.perf_counter()
                    await service.count_segment(
                        session=session, shop_id=shop_id, segment_id=segment_id
                    )
                    await session.commit()
                    runs.append(time.perf_counter() - began)
            show("service count_segment (no JIT)", runs)
            runs = []
            for _ in range(repeat):
                async with database.sessionmaker() as session:
                    began = time.perf_counter()
                    await service.list_members(
                        session=session, shop_id=shop_id, segment_id=segment_id, per_page=50
                    )
                    runs.append(time.perf_counter() - began)
            show("service list_members (page+total)", runs)
        finally:
            async with database.engine.begin() as connection:
                await connection.execute(
                    text("DELETE FROM segments WHERE id = :id"), {"id": segment_id}
                )
    if service is not None and hasattr(service, "preview_filter"):
        runs = []
        for _ in range(repeat):
            async with database.sessionmaker() as session:
                began = time.perf_counter()
                await service.preview_filter(
                    session=session, shop_id=shop_id, data=mixed_filter(vip), sample_size=10
                )
                runs.append(time.perf_counter() - began)
        show("service preview (count + 10)", runs)
    if explain:
        async with database.engine.connect() as connection:
            # The plan of the same statement, its (generated, constant) values inlined.
            compiled = count_statement.compile(
                dialect=connection.dialect, compile_kwargs={"literal_binds": True}
            )
            plan = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")
            print("\n".join(row[0] for row in plan))


async def ensure_demo_rules(database: Database, shop_id: int) -> None:
    """The demo's four tag rules (高活跃, 直播常客, 高客单, 沉睡) in the bench shop, once."""
    from liveloop.customers.tagrules.models import TagRule
    from liveloop.demo.private_domain_rules import DEMO_RULES

    async with database.sessionmaker() as session:
        if await session.scalar(select(func.count()).where(TagRule.shop_id == shop_id)):
            return
        from liveloop.customers import tags as tags_service
        from liveloop.customers.tagrules import service as tagrules_service
        from liveloop.customers.tagrules.schemas import TagRuleIn
        from liveloop.shops.service import system_actor

        actor = system_actor(shop_id, label="bench")
        tag_ids = await tags_service.ensure_tags(
            session=session, shop_id=shop_id, names=[tag for tag, _ in DEMO_RULES.values()]
        )
        for name, (tag, condition) in DEMO_RULES.items():
            await tagrules_service.create_rule(
                session=session,
                actor=actor,
                data=TagRuleIn(
                    name=name, tag_id=tag_ids[tag], condition=condition, confirm_all=True
                ),
            )
        await session.commit()


async def baseline_rule_reads(database: Database, shop_id: int) -> float:
    """The reads of the earlier apply_rule, for comparison: the condition evaluated for the
    newcomers, again inside a correlated anti-join for the leavers, and again for the count
    (the writes, the same in both, are left out). Returns seconds for all enabled rules."""
    from sqlalchemy import exists
    from sqlalchemy.orm import aliased

    from liveloop.core.database import utcnow
    from liveloop.customers.models import CustomerTag
    from liveloop.customers.segments import service as segments_service
    from liveloop.customers.tagrules import service as tagrules_service

    rule_tag = aliased(CustomerTag, name="rule_tag")
    began = time.perf_counter()
    async with database.sessionmaker() as session:
        await segments_service.tune_for_segment_statements(session)
        for rule in await tagrules_service.list_rules(session=session, shop_id=shop_id):
            members = await tagrules_service.members_query(
                session=session,
                shop_id=shop_id,
                condition=tagrules_service.parse_condition(rule.condition),
                now=utcnow(),
            )
            lacking = members.where(
                ~exists().where(rule_tag.customer_id == Customer.id, rule_tag.tag_id == rule.tag_id)
            )
            leaving = select(rule_tag.customer_id).where(
                rule_tag.shop_id == shop_id,
                rule_tag.tag_id == rule.tag_id,
                rule_tag.source == "rule",
                ~exists(members.where(Customer.id == rule_tag.customer_id)),
            )
            for statement in (lacking, leaving, members):
                await session.scalar(select(func.count()).select_from(statement.subquery()))
        await session.rollback()
    return time.perf_counter() - began


async def bench_recompute(database: Database, shop_id: int, baseline: bool) -> None:
    await ensure_demo_rules(database, shop_id)
    jobs = [
        ("liveloop.customers.tagrules.service", "evaluate_all_rules"),
        ("liveloop.customers.rfm.service", "recompute_rfm"),
        ("liveloop.customers.rfm.service", "recompute_lifecycle"),
        ("liveloop.customers.tagrules.service", "evaluate_all_rules"),  # again: nothing to change
    ]
    total = 0.0
    for index, (module_name, name) in enumerate(jobs):
        function = getattr(importlib.import_module(module_name), name)
        async with database.sessionmaker() as session:
            began = time.perf_counter()
            result = await function(session=session, shop_id=shop_id)
            await session.commit()
            seconds = time.perf_counter() - began
        if index < 3:
            total += seconds
        changed = ""
        if name == "evaluate_all_rules":
            changed = "  " + ", ".join(
                f"rule {run.rule_id}: {run.members:,} members +{run.added:,} -{run.removed:,}"
                for run in result
            )
        print(f"{module_name}.{name:<28} {seconds:8.1f} s{changed}")
    print(f"{'nightly recompute (rules, RFM, lifecycle), total':<64} {total:8.1f} s")
    if baseline:
        seconds = await baseline_rule_reads(database, shop_id)
        print(
            f"{'baseline: earlier rule reads alone (3 evaluations, anti-join)':<64} {seconds:8.1f} s"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--recompute", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--baseline", action="store_true", help="with --recompute: time the earlier rule reads"
    )
    args = parser.parse_args()
    url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgresql"):
        raise SystemExit("bench/segments.py runs on PostgreSQL only")
    await ensure_database(url)
    database = Database(url)
    try:
        shop_id = None if args.regenerate else await existing(database, args.customers, args.events)
        if shop_id is None:
            shop_id = await generate(database, args.customers, args.events)
        else:
            log("reusing the generated data")
            async with database.engine.begin() as connection:
                # Indexes declared since the data was generated (e.g. by a new migration).
                for table in ("events", "customers", "customer_tags", "customer_rfm"):
                    for index in Base.metadata.tables[table].indexes:
                        await connection.run_sync(
                            lambda sync, index=index: index.create(sync, checkfirst=True)
                        )
        if args.generate_only:
            return
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.customers:,} customers, {args.events:,} events; load average: {load}")
        await bench_segment(database, shop_id, args.repeat, args.explain)
        if args.recompute:
            await bench_recompute(database, shop_id, args.baseline)
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
