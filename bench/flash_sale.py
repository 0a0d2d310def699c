"""Benchmark: 2,000 concurrent buyers for a 100-unit flash sale; prints attempts/s, latency,
oversold units (must be 0) and orders created (must be 100).

    .venv/bin/python bench/flash_sale.py [--buyers 2000] [--units 100] [--skip-http]
                  [--skip-service] [--skip-sqlite] [--skip-postgres]

Paths, in one run (each path: the race, then a "sold-out wave" of every buyer again):
  service layer  `flash.service.buy_flash_sale` called by 2,000 coroutines at once, each in its
                 own unit of work: Redis Lua (PostgreSQL + Redis), SQL on PostgreSQL, SQL on
                 SQLite, and a naive baseline on PostgreSQL (SELECT … FOR UPDATE of the sale row,
                 then UPDATE, then the order, in one transaction);
  HTTP           `POST /api/v1/public/flash-sales/{id}/buy` against ONE uvicorn process, from
                 2,000 raw keep-alive connections (one per buyer, opened before the start, each
                 attempt with its own Idempotency-Key as the room page sends): Redis Lua, SQL on
                 PostgreSQL, SQL on SQLite, and the naive baseline as a bench-only route in the
                 same server (`naive_app`).
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text, update

from liveloop.catalog import service as catalog_service
from liveloop.catalog.schemas import ProductCreate
from liveloop.commerce import addresses
from liveloop.commerce.addresses import AddressData
from liveloop.commerce.flash import redis_lua
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.models import FlashBuyer, FlashReservation, FlashSale
from liveloop.commerce.flash.redis_lua import FlashCounters
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.commerce.models import Order
from liveloop.commerce.viewer_api import CurrentBuyer
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
            f"{self.label:<38} {self.rate:>9,.0f} attempts/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            f"  won {self.won:>4}  orders {self.orders:>4}  oversold {oversold}"
            f"  errors {self.errors}"
        )


@dataclass
class Fixture:
    """A shop, a product, the buyers (with an address each) — made once per database; each
    run opens a new sale on it."""

    shop_id: int
    sku_id: int
    customer_ids: list[int]
    address_ids: list[int]
    sale_id: int = 0


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


async def make_fixture(url: str, *, buyers: int, units: int, runs: int) -> Fixture:
    """A fresh schema with a shop, a product with stock for `runs` sales, and the buyers."""
    await prepare_schema(url)
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            shop = await shops_service.create_shop(session=session, name="秒杀压测店")
            product = await catalog_service.create_product(
                session=session,
                shop_id=shop.id,
                data=ProductCreate.model_validate(
                    {
                        "name": "秒杀龙井",
                        "skus": [{"price_fen": 19900, "stock": (units + WARM_UNITS) * runs}],
                    }
                ),
            )
            customer_ids = await customers_service.insert_customer_rows(
                session=session,
                rows=[{"shop_id": shop.id, "display_name": f"买家{n}"} for n in range(buyers)],
            )
            address_ids: list[int] = []
            for number, customer_id in enumerate(customer_ids):
                address = await addresses.create_address(
                    session=session,
                    shop_id=shop.id,
                    customer_id=customer_id,
                    data=AddressData(
                        recipient_name="买家", phone=f"139{number:08d}", region="浙江省",
                        city="杭州市", district="西湖区", detail=f"文三路{number}号",
                    ),
                )  # fmt: skip
                address_ids.append(address.id)
            return Fixture(shop.id, product.skus[0].id, customer_ids, address_ids)
    finally:
        await database.dispose()


async def open_sale(database: Database, fixture: Fixture, *, units: int) -> Fixture:
    """A new 100-unit (`units`) sale on the fixture's product, limit 1 per buyer."""
    async with database.unit_of_work() as session:
        now = utcnow()
        sale = await flash_service.create_flash_sale(
            session=session,
            shop_id=fixture.shop_id,
            data=FlashSaleCreate(
                sku_id=fixture.sku_id,
                price_fen=990,
                quantity=units,
                per_customer_limit=1,
                starts_at=now - dt.timedelta(minutes=1),
                ends_at=now + dt.timedelta(hours=1),
            ),
        )
    return replace(fixture, sale_id=sale.id)


async def check_truth(database: Database, fixture: Fixture, result: Result) -> None:
    """From the database: the sale's sold count and the live orders holding its units."""
    async with database.unit_of_work() as session:
        sale = await session.get(FlashSale, fixture.sale_id)
        assert sale is not None
        result.sold_count = sale.sold_count
        result.units = sale.quantity
        result.orders = (
            await session.execute(
                select(func.count())
                .select_from(Order)
                .join(FlashReservation, FlashReservation.order_id == Order.id)
                .where(
                    FlashReservation.flash_sale_id == fixture.sale_id,
                    Order.shop_id == fixture.shop_id,
                    Order.kind == "flash",
                    Order.status.in_(("pending_payment", "paid")),
                )
            )
        ).scalar_one()


# ------------------------------------------------------------------------- service layer


async def naive_buy(
    database: Database, *, shop_id: int, sale_id: int, customer_id: int, address_id: int | None
) -> bool:
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
                .where(FlashSale.id == sale_id, FlashSale.shop_id == shop_id)
                .with_for_update()
            )
        ).one()
        sold, quantity, sku_id, price_fen = row
        held = (
            await session.execute(
                select(func.count()).where(
                    FlashReservation.flash_sale_id == sale_id,
                    FlashReservation.customer_id == customer_id,
                )
            )
        ).scalar_one()
        if sold + 1 > quantity or held:
            return False
        await session.execute(
            update(FlashSale).where(FlashSale.id == sale_id).values(sold_count=sold + 1)
        )
        order = await orders.place_order(
            session=session, shop_id=shop_id, customer_id=customer_id,
            lines=[LineRequest(sku_id=sku_id, quantity=1)], address_id=address_id,
            price_overrides={sku_id: price_fen}, kind="flash", stock_already_reserved=True,
        )  # fmt: skip
        session.add(
            FlashReservation(
                shop_id=shop_id, flash_sale_id=sale_id, customer_id=customer_id,
                order_id=order.id, quantity=1, token=f"naive-{order.id}",
            )
        )  # fmt: skip
        session.add(
            FlashBuyer(
                shop_id=shop_id, flash_sale_id=sale_id, customer_id=customer_id, quantity=1
            )
        )  # fmt: skip
        return True


WARM_UNITS = 5


async def attempt_once(
    database: Database,
    fixture: Fixture,
    counters: FlashCounters | None,
    naive: bool,
    customer_id: int,
    address_id: int,
) -> bool:
    """One buyer's attempt on the path; True when it won, False when refused."""
    if naive:
        return await naive_buy(
            database, shop_id=fixture.shop_id, sale_id=fixture.sale_id,
            customer_id=customer_id, address_id=address_id,
        )  # fmt: skip
    try:
        async with database.unit_of_work() as session:
            await flash_service.buy_flash_sale(
                session=session, shop_id=fixture.shop_id, flash_sale_id=fixture.sale_id,
                customer_id=customer_id, address_id=address_id, counters=counters,
            )  # fmt: skip
    except Conflict:
        return False
    return True


def use_redis(redis_url: str | None) -> None:
    """As in a server: with Redis configured, a new sale's counters load when it commits."""
    assert queue.settings is not None
    redis_lua._by_url.clear()  # clients of an earlier event loop (one per asyncio.run)
    queue.configure(
        queue.settings.model_copy(
            update={"redis_url": redis_url or "", "bus_backend": "redis" if redis_url else "memory"}
        )
    )


async def run_service(
    label: str,
    url: str,
    fixture: Fixture,
    *,
    units: int,
    redis_url: str | None,
    naive: bool = False,
) -> tuple[Result, Result]:
    """The race (every buyer at once) and then the sold-out wave (every buyer again)."""
    use_redis(redis_url)
    flash_service._sold_out_until.clear()  # a new sale; nothing remembered from another run
    database = Database(url, pool_size=20)
    counters = FlashCounters.from_url(redis_url) if redis_url else None
    try:
        buyers = list(zip(fixture.customer_ids, fixture.address_ids, strict=True))
        # Warm-up (not timed): the pool's connections, prepared statements, caches — so the
        # first path measured does not pay for them alone.
        warm = await open_sale(database, fixture, units=WARM_UNITS)
        await asyncio.sleep(0.3)  # the counters load just after the commit
        await asyncio.gather(*(attempt_once(database, warm, counters, naive, c, a)
                               for c, a in buyers[: WARM_UNITS * 10]))  # fmt: skip
        fixture = await open_sale(database, fixture, units=units)
        await asyncio.sleep(0.3)

        async def attempt(result: Result, customer_id: int, address_id: int) -> None:
            started = time.perf_counter()
            try:
                won = await attempt_once(
                    database, fixture, counters, naive, customer_id, address_id
                )
            except Conflict:
                won = False
            except Exception as error:  # counted and shown, never hidden
                result.errors += 1
                won = False
                if result.errors == 1:
                    print(f"  first error in {result.label}: {error!r}"[:300])
            result.latencies.append(time.perf_counter() - started)
            result.won += int(won)

        results = []
        for name in (label, f"{label} sold-out wave"):
            result = Result(name, len(buyers), 0.0)
            started = time.perf_counter()
            await asyncio.gather(*(attempt(result, c, a) for c, a in buyers))
            result.seconds = time.perf_counter() - started
            results.append(result)
        for result in results:
            await check_truth(database, fixture, result)
        if counters is not None:
            for sale_id in (warm.sale_id, fixture.sale_id):
                await counters.forget(shop_id=fixture.shop_id, sale_id=sale_id)
        return results[0], results[1]
    finally:
        if counters is not None:
            await counters.aclose()
        await database.dispose()


# ---------------------------------------------------------------------------------- HTTP


def naive_app() -> Any:
    """The app plus the naive baseline as a route (same viewer token, same body), for the
    HTTP comparison: `uvicorn flash_sale:naive_app --factory --app-dir bench`."""
    from liveloop.app import create_app

    app = create_app()

    @app.post("/bench/naive-flash/{flash_sale_id}/buy")
    async def naive_route(flash_sale_id: int, request: Request, claims: CurrentBuyer) -> Any:
        body = await request.json()
        assert claims.customer_id is not None
        won = await naive_buy(
            request.app.state.database, shop_id=claims.shop_id, sale_id=flash_sale_id,
            customer_id=claims.customer_id, address_id=body.get("address_id"),
        )  # fmt: skip
        if won:
            return JSONResponse({"won": True}, status_code=201)
        return JSONResponse({"code": "sold_out"}, status_code=409)

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "flash_sale:naive_app", "--factory",
        "--app-dir", str(Path(__file__).parent),
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--no-access-log", "--loop", "uvloop", "--http", "httptools", "--backlog", "4096",
        "--limit-concurrency", "100000", "--timeout-keep-alive", "600",
    ]  # fmt: skip
    # The server's own log goes to a file (a refused buyer is not an error; a crash is there).
    log = open(Path(env["LIVELOOP_VAR_DIR"]) / f"uvicorn-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start in 90 s")


class Buyer:
    """One phone in the room: its own keep-alive connection, raw HTTP/1.1 (a client library
    with a shared pool would measure itself: queueing 2,000 requests on a pool is slow)."""

    def __init__(self, token: str, address_id: int) -> None:
        self.token = token
        self.address_id = address_id
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)

    async def post(self, path: str, key: str) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        body = orjson.dumps({"address_id": self.address_id})
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {self.token}\r\nIdempotency-Key: {key}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_http(
    label: str,
    url: str,
    fixture: Fixture,
    buyers: list[Buyer],
    *,
    port: int,
    units: int,
    redis_url: str | None,
    naive: bool = False,
) -> tuple[Result, Result]:
    """Every buyer posts at once (the race), then every buyer again (the sold-out wave), each
    with its own Idempotency-Key per attempt as the room page sends."""
    use_redis(redis_url)
    database = Database(url)
    try:
        fixture = await open_sale(database, fixture, units=units)
    finally:
        await database.dispose()
    await asyncio.sleep(0.3)  # the counters load just after the commit
    if naive:
        path = f"/bench/naive-flash/{fixture.sale_id}/buy"
    else:
        path = f"/api/v1/public/flash-sales/{fixture.sale_id}/buy"

    async def attempt(result: Result, buyer: Buyer, key: str) -> None:
        started = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(buyer.post(path, key), 120)
        except (TimeoutError, OSError, ValueError, IndexError) as error:
            result.latencies.append(time.perf_counter() - started)
            result.errors += 1
            if result.errors == 1:
                print(f"  first error in {result.label}: {error!r}")
            buyer.close()
            await buyer.connect(port)
            return
        result.latencies.append(time.perf_counter() - started)
        if status == 201:
            result.won += 1
        elif status != 409:
            result.errors += 1
            if result.errors == 1:
                print(f"  first error in {result.label}: {status} {body[:200]!r}")

    results = []
    for wave, name in enumerate((label, f"{label} sold-out wave")):
        result = Result(name, len(buyers), 0.0)
        started = time.perf_counter()
        await asyncio.gather(
            *(attempt(result, b, f"{fixture.sale_id}-{n}-{wave}") for n, b in enumerate(buyers))
        )
        result.seconds = time.perf_counter() - started
        results.append(result)
    database = Database(url)
    try:
        for result in results:
            await check_truth(database, fixture, result)
    finally:
        await database.dispose()
    if redis_url:
        counters = FlashCounters.from_url(redis_url)
        await counters.forget(shop_id=fixture.shop_id, sale_id=fixture.sale_id)
        await counters.aclose()
    return results[0], results[1]


async def http_runs(
    url: str,
    fixture: Fixture,
    runs: list[tuple[str, str | None, bool]],
    *,
    units: int,
    var_dir: Path,
) -> list[Result]:
    """One server (one process) for the runs on one database and backend."""
    redis_url = runs[0][1]
    settings = Settings(secret_key=SECRET, var_dir=var_dir, database_url=url)
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

    buyers = [
        Buyer(token_for(c), a)
        for c, a in zip(fixture.customer_ids, fixture.address_ids, strict=True)
    ]
    port = free_port()
    server = start_server(env, port)
    results: list[Result] = []
    try:
        for number in range(0, len(buyers), 200):  # the viewers are in the room already
            await asyncio.gather(*(b.connect(port) for b in buyers[number : number + 200]))
        use_redis(redis_url)  # warm-up (not timed): the server's pool, statements, caches
        database = Database(url)
        try:
            warm = await open_sale(database, fixture, units=WARM_UNITS)
        finally:
            await database.dispose()
        await asyncio.sleep(0.3)
        path = f"/api/v1/public/flash-sales/{warm.sale_id}/buy"
        await asyncio.gather(
            *(b.post(path, f"warm-{warm.sale_id}-{n}") for n, b in enumerate(buyers[:50]))
        )
        for label, _, naive in runs:
            results.extend(
                await run_http(
                    label, url, fixture, buyers, port=port, units=units, redis_url=redis_url,
                    naive=naive,
                )
            )  # fmt: skip
    finally:
        for buyer in buyers:
            buyer.close()
        server.terminate()
        server.wait(timeout=30)
    return results


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
    parser.add_argument("--skip-service", action="store_true")
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
    print(f"{n:,} concurrent buyers for {u} units, per-customer limit 1; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    service: list[Result] = []
    http: list[Result] = []
    started = time.perf_counter()
    if not args.skip_postgres:
        fixture = asyncio.run(make_fixture(pg, buyers=n, units=u, runs=8))
        if not args.skip_service:
            for label, redis, naive in (
                ("service redis-lua (pg)", redis_url, False),
                ("service sql (pg)", None, False),
                ("service naive lock (pg)", None, True),
            ):
                service.extend(
                    asyncio.run(run_service(label, pg, fixture, units=u, redis_url=redis, naive=naive))
                )  # fmt: skip
        if not args.skip_http:
            http += asyncio.run(
                http_runs(pg, fixture, [("http redis-lua (pg)", redis_url, False)], units=u,
                          var_dir=folder)
            )  # fmt: skip
            http += asyncio.run(
                http_runs(pg, fixture, [("http sql (pg)", None, False),
                                        ("http naive lock (pg)", None, True)],
                          units=u, var_dir=folder)
            )  # fmt: skip
    if not args.skip_sqlite:
        fixture = asyncio.run(make_fixture(sqlite, buyers=n, units=u, runs=4))
        if not args.skip_service:
            service.extend(
                asyncio.run(run_service("service sql (sqlite)", sqlite, fixture, units=u, redis_url=None))
            )  # fmt: skip
        if not args.skip_http:
            http += asyncio.run(
                http_runs(sqlite, fixture, [("http sql (sqlite)", None, False)], units=u,
                          var_dir=folder)
            )  # fmt: skip
    for results, naive in ((service, "service naive lock (pg)"), (http, "http naive lock (pg)")):
        for result in results:
            print(result.line())
        print_ratios("attempts/s", [r for r in results if "wave" not in r.label], naive)
        print_ratios(
            "sold-out wave attempts/s",
            [r for r in results if "wave" in r.label],
            f"{naive} sold-out wave",
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}; "
          f"{time.perf_counter() - started:.0f} s in all")  # fmt: skip


if __name__ == "__main__":
    main()
