"""Consent screening at broadcast scale: time `outreach.consent.service.screen_recipients` for
100,000 customers (consent, do-not-contact, a week of the contact log for caps, quiet hours),
`record_contacts` of 100,000 rows and 100,000 `unsubscribe_url`s.

    .venv/bin/python bench/consent_screen.py                    # 100,000 customers
    .venv/bin/python bench/consent_screen.py --customers 20000 --skip-postgres

Customers: 80 % consent to e-mail, 3 % are on the do-not-contact list, 40 % had one or two
marketing e-mails in the last week (the default cap is 2 per 7 days). Each figure is the median
of three runs. PostgreSQL from LIVELOOP_BENCH_DATABASE_URL (default
.../liveloop_bench_consent); the bench shop's rows are deleted afterwards. Prints figures;
asserts nothing.
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

from sqlalchemy import delete, insert, text

from liveloop.core.database import Database
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.customers.models import Customer
from liveloop.models import Base
from liveloop.outreach.consent import service
from liveloop.outreach.consent.models import ContactBlock, ContactLog
from liveloop.outreach.contracts import ChannelKind
from liveloop.shops.models import Shop

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/liveloop_bench_consent"
BATCH = 5_000
# 10:00 in Shanghai: no quiet hours, so every decision goes through the cap check.
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)


async def bulk(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await connection.execute(insert(table), rows[start : start + BATCH])


async def load(database: Database, customers: int) -> tuple[int, list[int]]:
    rng = random.Random(7)
    async with database.engine.begin() as connection:
        shop_id = (
            await connection.execute(
                insert(Shop)
                .values(name="bench consent", timezone="Asia/Shanghai")
                .returning(Shop.id)
            )
        ).scalar_one()
        rows = [
            {"shop_id": shop_id, "display_name": f"c{index}", "status": "active",
             "consent": {"email": rng.random() < 0.8}}
            for index in range(customers)
        ]  # fmt: skip
        await bulk(connection, Customer, rows)
        ids = list(
            (
                await connection.execute(
                    text("SELECT id FROM customers WHERE shop_id = :s ORDER BY id"), {"s": shop_id}
                )
            ).scalars()
        )
        blocks = [
            {"shop_id": shop_id, "customer_id": cid, "channel_key": "email",
             "reason": rng.choice(["unsubscribed", "bounced", "complaint"]), "note": "",
             "created_at": NOW, "created_by": "bench"}
            for cid in ids if rng.random() < 0.03
        ]  # fmt: skip
        await bulk(connection, ContactBlock, blocks)
        log = []
        for cid in ids:
            if rng.random() < 0.4:
                for _ in range(rng.choice([1, 2])):
                    at = NOW - dt.timedelta(minutes=rng.randrange(1, 7 * 24 * 60))
                    log.append({"shop_id": shop_id, "customer_id": cid, "channel_key": "email",
                                "at": at, "marketing": True, "ref": "bench"})  # fmt: skip
        await bulk(connection, ContactLog, log)
    return shop_id, ids


async def median_of_three(run: Any) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def bench(label: str, url: str, customers: int) -> None:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    started = time.perf_counter()
    shop_id, ids = await load(database, customers)
    print(f"[{label}] {customers:,} customers loaded in {time.perf_counter() - started:.1f} s")
    settings = Settings(secret_key="bench-secret", var_dir=Path(tempfile.gettempdir()))
    try:
        async with database.sessionmaker() as session:
            decisions: dict[int, Any] = {}

            async def screen() -> None:
                found = await service.screen_recipients(
                    session=session, shop_id=shop_id, kind=ChannelKind.EMAIL,
                    customer_ids=ids, now=NOW,
                )  # fmt: skip
                decisions.update(found)

            seconds = await median_of_three(screen)
            reasons: dict[str, int] = {}
            for decision in decisions.values():
                key = decision.reason or "ok"
                reasons[key] = reasons.get(key, 0) + 1
            print(f"[{label}] screen_recipients: {len(ids):,} in {seconds * 1000:.0f} ms "
                  f"= {len(ids) / seconds:,.0f} recipients/s  {dict(sorted(reasons.items()))}")  # fmt: skip

            async def record() -> None:
                await service.record_contacts(
                    session=session, shop_id=shop_id, kind=ChannelKind.EMAIL, customer_ids=ids,
                    at=NOW, marketing=True, ref="bench:record",
                )  # fmt: skip
                await session.rollback()

            seconds = await median_of_three(record)
            print(f"[{label}] record_contacts: {len(ids):,} rows in {seconds * 1000:.0f} ms "
                  f"= {len(ids) / seconds:,.0f} rows/s")  # fmt: skip

        async def links() -> None:
            for cid in ids:
                service.unsubscribe_url(
                    settings=settings, shop_id=shop_id, customer_id=cid, channel_key="email"
                )

        seconds = await median_of_three(links)
        print(f"[{label}] unsubscribe_url: {len(ids):,} in {seconds * 1000:.0f} ms "
              f"= {len(ids) / seconds:,.0f} links/s")  # fmt: skip
    finally:
        async with database.engine.begin() as connection:
            for table in (ContactLog, ContactBlock, Customer):
                await connection.execute(delete(table).where(table.shop_id == shop_id))
            await connection.execute(delete(Shop).where(Shop.id == shop_id))
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            asyncio.run(bench("SQLite", url, args.customers))
    if not args.skip_postgres:
        url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG)
        asyncio.run(bench("PostgreSQL", url, args.customers))


if __name__ == "__main__":
    main()
