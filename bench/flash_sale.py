"""Benchmark: 2,000 concurrent buyers for a 100-unit flash sale; prints attempts/s, latency,
oversold units (must be 0) and orders created (must be 100).

    .venv/bin/python bench/flash_sale.py [--buyers 2000] [--units 100] [--skip-http]
                                         [--skip-sqlite] [--skip-postgres]

Paths, in one run:
  service layer  `flash.service.buy_flash_sale` called by 2,000 coroutines at once, each in its
                 own unit of work: Redis Lua (PostgreSQL + Redis), SQL on PostgreSQL, SQL on
                 SQLite, and a naive baseline on PostgreSQL (SELECT … FOR UPDATE of the sale row,
                 then UPDATE, then the order, in one transaction);
  HTTP           `POST /api/v1/public/flash-sales/{id}/buy` against a uvicorn subprocess (one
                 worker) with 2,000 viewer tokens: Redis Lua, SQL on PostgreSQL, SQL on SQLite.
PostgreSQL from LIVELOOP_BENCH_DATABASE_URL (default …/ll_c2_bench; created if missing), Redis
from LIVELOOP_BENCH_REDIS_URL (default redis://127.0.0.1:6379/7). Figures are printed, never
asserted; the correctness counts are checked against the database after each run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text, update

from liveloop.catalog import service as catalog_service
from liveloop.catalog.schemas import ProductCreate
from liveloop.commerce import addresses
from liveloop.commerce.addresses import AddressData
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.models import FlashBuyer, FlashReservation, FlashSale
from liveloop.commerce.flash.redis_lua import FlashCounters
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.commerce.models import Order
from liveloop.core.database import Database, utcnow
from liveloop.core.errors import Conflict
from liveloop.core.jobs import queue
from liveloop.core.settings import Settings
from liveloop.customers import service as customers_service
from liveloop.customers.crypto import configure_cipher
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.models import Base
from liveloop.shops import service as shops_service

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/ll_c2_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
SECRET = "bench-flash-secret"


@dataclass
class Result:
    label: str
    attempts: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    won: int = 0
    errors: int = 0
    sold_count: int = 0
    units: int = 0
    orders: int = 0

    @property
    def rate(self) -> float:
        return self.attempts / self.seconds

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        oversold = max(0, self.sold_count - self.units) + max(0, self.orders - self.units)
        return (
            f"{self.label:<26} {self.rate:>9,.0f} attempts/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            f"  won {self.won:>4}  orders {self.orders:>4}  oversold {oversold}"
            f"  errors {self.errors}"
        )


@dataclass
class Fixture:
    shop_id: int
    sale_id: int
    customer_ids: list[int]
    address_ids: list[int]


async def create_pg_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database="postgres",
    )  # fmt: skip
    try:
        if not await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
        ):
            await connection.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await connection.close()


async def prepare_schema(url: str) -> None:
    if url.startswith("postgresql"):
        await create_pg_database(url)
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            if database.dialect == "postgresql":
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            else:
                await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await database.dispose()


async def make_fixture(
    database: Database, *, buyers: int, units: int, addresses_too: bool
) -> Fixture:
    """A shop, a product, `buyers` customers (with an address each for HTTP) and the sale."""
    async with database.unit_of_work() as session:
        shop = await shops_service.create_shop(session=session, name="秒杀压测店")
        product = await catalog_service.create_product(
            session=session,
            shop_id=shop.id,
            data=ProductCreate.model_validate(
                {"name": "秒杀龙井", "skus": [{"price_fen": 19900, "stock": units * 2}]}
            ),
        )
        customer_ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"买家{n}"} for n in range(buyers)],
        )
        address_ids: list[int] = []
        if addresses_too:
            for number, customer_id in enumerate(customer_ids):
                address = await addresses.find_or_create_address(
                    session=session,
                    shop_id=shop.id,
                    customer_id=customer_id,
                    data=AddressData(
                        recipient_name="买家", phone=f"139{number:08d}", region="浙江省",
                        city="杭州市", district="西湖区", detail=f"文三路{number}号",
                    ),
                )  # fmt: skip
                address_ids.append(address.id)
        now = utcnow()
        sale = await flash_service.create_flash_sale(
            session=session,
            shop_id=shop.id,
            data=FlashSaleCreate(
                sku_id=product.skus[0].id,
                price_fen=990,
                quantity=units,
                per_customer_limit=1,
                starts_at=now - dt.timedelta(minutes=1),
                ends_at=now + dt.timedelta(hours=1),
            ),
        )
        return Fixture(shop.id, sale.id, customer_ids, address_ids)


async def check_truth(database: Database, fixture: Fixture, result: Result) -> None:
    async with database.unit_of_work() as session:
        sale = await session.get(FlashSale, fixture.sale_id)
        assert sale is not None
        result.sold_count = sale.sold_count
        result.units = sale.quantity
        result.orders = (
            await session.execute(
                select(func.count()).where(
                    Order.shop_id == fixture.shop_id,
                    Order.kind == "flash",
                    Order.status.in_(("pending_payment", "paid")),
                )
            )
        ).scalar_one()


# ------------------------------------------------------------------------- service layer


async def naive_buy(database: Database, fixture: Fixture, customer_id: int) -> bool:
    """The baseline: lock the sale row, read, decide in Python, write, order — one
    transaction holding the row lock throughout (what the conditional update avoids)."""
    from liveloop.commerce import orders
    from liveloop.commerce.checkout import LineRequest

    async with database.unit_of_work() as session:
        row = (
            await session.execute(
                select(
                    FlashSale.sold_count, FlashSale.quantity, FlashSale.sku_id, FlashSale.price_fen
                )
                .where(FlashSale.id == fixture.sale_id)
                .with_for_update()
            )
        ).one()
        sold, quantity, sku_id, price_fen = row
        held = (
            await session.execute(
                select(func.count()).where(
                    FlashReservation.flash_sale_id == fixture.sale_id,
                    FlashReservation.customer_id == customer_id,
                )
            )
        ).scalar_one()
        if sold + 1 > quantity or held:
            return False
        await session.execute(
            update(FlashSale).where(FlashSale.id == fixture.sale_id).values(sold_count=sold + 1)
        )
        order = await orders.place_order(
            session=session, shop_id=fixture.shop_id, customer_id=customer_id,
            lines=[LineRequest(sku_id=sku_id, quantity=1)], address_id=None,
            price_overrides={sku_id: price_fen}, kind="flash", stock_already_reserved=True,
        )  # fmt: skip
        session.add(
            FlashReservation(
                shop_id=fixture.shop_id, flash_sale_id=fixture.sale_id, customer_id=customer_id,
                order_id=order.id, quantity=1, token=f"naive-{order.id}",
            )
        )  # fmt: skip
        session.add(
            FlashBuyer(
                shop_id=fixture.shop_id, flash_sale_id=fixture.sale_id,
                customer_id=customer_id, quantity=1,
            )
        )  # fmt: skip
        return True


async def run_service(
    label: str, url: str, *, buyers: int, units: int, redis_url: str | None, naive: bool = False
) -> Result:
    await prepare_schema(url)
    # As in a server: with Redis configured, a new sale's counters are loaded when it commits.
    assert queue.settings is not None
    queue.configure(
        queue.settings.model_copy(
            update={"redis_url": redis_url or "", "bus_backend": "redis" if redis_url else "memory"}
        )
    )
    database = Database(url, pool_size=20)
    counters = FlashCounters.from_url(redis_url) if redis_url else None
    try:
        fixture = await make_fixture(database, buyers=buyers, units=units, addresses_too=False)
        await asyncio.sleep(0.5)  # the counters load just after the commit
        result = Result(label, buyers, 0.0)

        async def attempt(customer_id: int) -> None:
            started = time.perf_counter()
            try:
                if naive:
                    won = await naive_buy(database, fixture, customer_id)
                else:
                    async with database.unit_of_work() as session:
                        await flash_service.buy_flash_sale(
                            session=session, shop_id=fixture.shop_id,
                            flash_sale_id=fixture.sale_id, customer_id=customer_id,
                            counters=counters,
                        )  # fmt: skip
                    won = True
            except Conflict:
                won = False
            except Exception as error:  # counted and shown, never hidden
                result.errors += 1
                won = False
                if result.errors == 1:
                    print(f"  first error in {label}: {error!r}"[:300])
            result.latencies.append(time.perf_counter() - started)
            result.won += int(won)

        started = time.perf_counter()
        await asyncio.gather(*(attempt(c) for c in fixture.customer_ids))
        result.seconds = time.perf_counter() - started
        await check_truth(database, fixture, result)
        # The flood after the sell-out: every attempt is refused; how fast?
        wave = Result(f"{label} sold-out wave", buyers, 0.0, units=result.units)
        wave.sold_count, wave.orders = result.sold_count, result.orders
        main, result = result, wave
        started = time.perf_counter()
        await asyncio.gather(*(attempt(c) for c in fixture.customer_ids))
        wave.seconds = time.perf_counter() - started
        result = main
        main.wave = wave  # type: ignore[attr-defined]
        if counters is not None:
            await counters.forget(shop_id=fixture.shop_id, sale_id=fixture.sale_id)
        return result
    finally:
        if counters is not None:
            await counters.aclose()
        await database.dispose()


# ---------------------------------------------------------------------------------- HTTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "liveloop.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--no-access-log", "--loop", "uvloop", "--http", "httptools", "--backlog", "4096",
    ]  # fmt: skip
    # The server's own log goes to a file (a refused buyer is not an error; a crash is there).
    log = open(Path(env["LIVELOOP_VAR_DIR"]) / f"uvicorn-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start in 60 s")


async def run_http(
    label: str, url: str, *, buyers: int, units: int, redis_url: str | None, var_dir: Path
) -> Result:
    import httpx

    await prepare_schema(url)
    database = Database(url)
    settings = Settings(secret_key=SECRET, var_dir=var_dir, database_url=url)
    try:
        fixture = await make_fixture(database, buyers=buyers, units=units, addresses_too=True)
    finally:
        await database.dispose()
    if redis_url:  # counters of an earlier run whose ids were the same
        stale = FlashCounters.from_url(redis_url)
        await stale.forget(shop_id=fixture.shop_id, sale_id=fixture.sale_id)
        await stale.aclose()
    env = {
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET,
        "LIVELOOP_VAR_DIR": str(var_dir),
        "LIVELOOP_LOG_LEVEL": "warning",
        "LIVELOOP_QUEUE_BACKEND": "immediate",
        "LIVELOOP_BUS_BACKEND": "redis" if redis_url else "memory",
        "LIVELOOP_REDIS_URL": redis_url or "",
        "LIVELOOP_DB_POOL_SIZE": "20",
    }

    def token_for(customer_id: int) -> str:
        claims = ViewerClaims(
            shop_id=fixture.shop_id,
            live_session_id=None,
            customer_id=customer_id,
            device_id=f"bench-{customer_id}",
            name="买**",
        )
        return sign_viewer_token(settings, claims)

    tokens = [token_for(c) for c in fixture.customer_ids]
    port = free_port()
    server = start_server(env, port)
    result = Result(label, buyers, 0.0)
    try:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=300
        ) as client:
            await client.get("/healthz")  # warm: imports, pools
            path = f"/api/v1/public/flash-sales/{fixture.sale_id}/buy"

            async def attempt(token: str, address_id: int) -> None:
                started = time.perf_counter()
                try:
                    response = await client.post(
                        path, json={"address_id": address_id},
                        headers={"Authorization": f"Bearer {token}"},
                    )  # fmt: skip
                except httpx.HTTPError as error:  # counted and shown, never hidden
                    result.latencies.append(time.perf_counter() - started)
                    result.errors += 1
                    if result.errors == 1:
                        print(f"  first error in {label}: {error!r}")
                    return
                result.latencies.append(time.perf_counter() - started)
                if response.status_code == 201:
                    result.won += 1
                elif response.status_code != 409:
                    result.errors += 1
                    if result.errors == 1:
                        print(
                            f"  first error in {label}: {response.status_code} {response.text[:200]}"
                        )

            started = time.perf_counter()
            await asyncio.gather(
                *(attempt(t, a) for t, a in zip(tokens, fixture.address_ids, strict=True))
            )
            result.seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    database = Database(url)
    try:
        await check_truth(database, fixture, result)
    finally:
        await database.dispose()
    if redis_url:
        counters = FlashCounters.from_url(redis_url)
        await counters.forget(shop_id=fixture.shop_id, sale_id=fixture.sale_id)
        await counters.aclose()
    return result


# ---------------------------------------------------------------------------------- main


def print_ratios(title: str, results: list[Result], base: str) -> None:
    reference = next((r for r in results if r.label == base), None)
    if reference is None:
        return
    ratios = ", ".join(
        f"{r.label} {r.rate / reference.rate:.1f}×" for r in results if r is not reference
    )
    print(f"{title} relative to {base}: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    pg = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG)
    redis_url = os.environ.get("LIVELOOP_BENCH_REDIS_URL", DEFAULT_REDIS)
    folder = Path(tempfile.mkdtemp(prefix="ll-flash-"))
    settings = Settings(secret_key=SECRET, var_dir=folder, queue_backend="immediate")
    configure_cipher(settings)
    queue.configure(settings)  # orders schedule their expiry after commit
    sqlite = f"sqlite+aiosqlite:///{folder / 'flash.db'}"
    n, u = args.buyers, args.units
    print(f"{n:,} concurrent buyers for {u} units, per-customer limit 1")

    service: list[Result] = []
    if not args.skip_postgres:
        service.append(
            asyncio.run(
                run_service("service redis-lua (pg)", pg, buyers=n, units=u, redis_url=redis_url)
            )
        )
        service.append(
            asyncio.run(run_service("service sql (pg)", pg, buyers=n, units=u, redis_url=None))
        )
        service.append(
            asyncio.run(
                run_service(
                    "service naive lock (pg)", pg, buyers=n, units=u, redis_url=None, naive=True
                )
            )
        )
    if not args.skip_sqlite:
        service.append(
            asyncio.run(
                run_service("service sql (sqlite)", sqlite, buyers=n, units=u, redis_url=None)
            )
        )
    for result in service:
        print(result.line())
        wave = getattr(result, "wave", None)
        if wave is not None:
            print(wave.line())
    print_ratios("service attempts/s", service, "service naive lock (pg)")

    if args.skip_http:
        return
    http: list[Result] = []
    if not args.skip_postgres:
        http.append(
            asyncio.run(
                run_http(
                    "http redis-lua (pg)",
                    pg,
                    buyers=n,
                    units=u,
                    redis_url=redis_url,
                    var_dir=folder,
                )
            )
        )
        http.append(
            asyncio.run(
                run_http("http sql (pg)", pg, buyers=n, units=u, redis_url=None, var_dir=folder)
            )
        )
    if not args.skip_sqlite:
        http.append(
            asyncio.run(
                run_http(
                    "http sql (sqlite)", sqlite, buyers=n, units=u, redis_url=None, var_dir=folder
                )
            )
        )
    for result in http:
        print(result.line())
    print_ratios("http attempts/s", http, "http sql (pg)")


if __name__ == "__main__":
    main()
