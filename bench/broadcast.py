"""Broadcast at scale: plan and enqueue 100,000 recipients, then deliver them through the webhook
channel to a real local HTTP receiver that counts the POSTs and checks every HMAC signature.

    .venv/bin/python bench/broadcast.py                               # SQLite, 100,000
    .venv/bin/python bench/broadcast.py --recipients 20000 --profile  # where enqueue time goes
    .venv/bin/python bench/broadcast.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_bc \
        --redis-url redis://127.0.0.1:6379/12

Stages, each through LiveLoop's own functions:

  enqueue   `broadcasts.service.start_broadcast` (audience query, addresses, consent screening,
            A/B assignment with a 10 % hold-out, one INSERT per 5,000 recipient rows), committed.
            Personalisation (template rendering) does NOT happen here: it happens per recipient
            at delivery (`delivery._send_batch`), so it is inside the delivery figure. The
            breakdown below times the same steps one by one on a second broadcast (rolled back).
  rated     `broadcasts.delivery.deliver_broadcast` for the first --rated-sample recipients with
            the channel's configured rate limit (--rate per second): what bounds a real send.
  unlimited the delivery JOB, `broadcasts.tasks.deliver_broadcast`, enqueued on Huey (SQLite
            file queue, or Redis with --redis-url), dequeued and executed the way a worker does
            (its own unit of work), for every remaining recipient with the channel's rate limit
            lifted: LiveLoop's own ceiling. Delivery is "bounded by the rate limit, not by
            LiveLoop" when this ceiling is well above --rate.

Customers: 95 % consent to the webhook channel; the hold-out is 10 %, so about 85.5 % are queued.
The receiver runs in its own process (ThreadingHTTPServer, HTTP/1.1 keep-alive) so it does not
share the interpreter with the sender. On PostgreSQL the bench shop's rows are deleted
afterwards (the SQLite file is thrown away). Prints figures; asserts nothing. Timings depend on
the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import hashlib
import hmac
import io
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import delete, func, insert, select, update

from liveloop.core.database import Database
from liveloop.core.jobs import queue
from liveloop.core.logging import configure_logging
from liveloop.core.settings import Settings
from liveloop.customers.models import Customer
from liveloop.models import Base
from liveloop.outreach.broadcasts import delivery, partners, service, tasks
from liveloop.outreach.broadcasts.models import Broadcast, BroadcastRecipient
from liveloop.outreach.channels import service as channel_service
from liveloop.outreach.channels.models import ShopChannel
from liveloop.outreach.consent.models import ContactLog
from liveloop.outreach.contracts import ChannelKind
from liveloop.shops.models import Shop

BATCH = 5_000
SECRET = "whsec_bench_broadcast"
PARTS = {
    "A": {"text": "{{ customer.name }}，今晚 8 点直播，点此进入：{{ live.link }} 退订 {{ unsubscribe_url }}"},
    "B": {"text": "{{ customer.name }}，专属券 {{ coupon.code }} 今晚可用：{{ live.link }}"},
}  # fmt: skip


def noon_utc() -> dt.datetime:
    """The latest 04:00 UTC (12:00 in Shanghai) in the past: never inside quiet hours."""
    now = dt.datetime.now(dt.UTC)
    at = now.replace(hour=4, minute=0, second=0, microsecond=0)
    return at if at <= now else at - dt.timedelta(days=1)


# --------------------------------------------------------------------------- receiver


def _serve(port_out: Any, posts: Any, bad: Any, ready: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header = self.headers.get("X-LiveLoop-Signature", "")
            fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
            expected = hmac.new(
                SECRET.encode(), f"{fields.get('t', '')}.".encode() + body, hashlib.sha256
            ).hexdigest()
            good = hmac.compare_digest(expected, fields.get("v1", ""))
            with (posts if good else bad).get_lock():
                (posts if good else bad).value += 1
            status, reply = (200, b"ok") if good else (401, b"bad signature")
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.value = server.server_address[1]
    ready.set()
    server.serve_forever()


class Receiver:
    """A local webhook receiver in a child process; counts good and badly signed POSTs."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.posts, self.bad = context.Value("q", 0), context.Value("q", 0)
        self._port, ready = context.Value("i", 0), context.Event()
        self._process = context.Process(
            target=_serve, args=(self._port, self.posts, self.bad, ready), daemon=True
        )
        self._process.start()
        ready.wait(30)
        self.url = f"http://127.0.0.1:{self._port.value}/hook"

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)


# --------------------------------------------------------------------------- data


async def load(
    database: Database, recipients: int, url: str, settings: Settings
) -> tuple[int, int]:
    """A shop with `recipients` active customers (95 % consenting) and a webhook channel."""
    async with database.engine.begin() as connection:
        shop_id = (
            await connection.execute(
                insert(Shop).values(name="bench broadcast", timezone="Asia/Shanghai")
                .returning(Shop.id)
            )
        ).scalar_one()  # fmt: skip
        rows = [
            {"shop_id": shop_id, "display_name": f"顾客{index}", "status": "active",
             "consent": {"webhook": index % 20 != 0}}
            for index in range(recipients)
        ]  # fmt: skip
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(Customer), rows[start : start + BATCH])
    async with database.sessionmaker() as session:
        channel = await channel_service.create_channel(
            session=session, shop_id=shop_id, kind="webhook", name="bench hook",
            config={"url": url}, secret={"signing_secret": SECRET}, rate_per_second=0,
            settings=settings,
        )  # fmt: skip
        await session.commit()
        return shop_id, channel.id


def broadcast_in(channel_id: int, name: str) -> service.BroadcastIn:
    return service.BroadcastIn(
        name=name, kind=ChannelKind.WEBHOOK, channel_id=channel_id, audience={"all": True},
        variants=[{"key": k, "weight": 50, "parts": p} for k, p in PARTS.items()],
        holdout_percent=10, coupon_code="LIVE20",
    )  # fmt: skip


async def cleanup(database: Database, shop_id: int) -> None:
    async with database.engine.begin() as connection:
        for table in (BroadcastRecipient, Broadcast, ContactLog, ShopChannel, Customer):
            await connection.execute(delete(table).where(table.shop_id == shop_id))
        await connection.execute(delete(Shop).where(Shop.id == shop_id))


# --------------------------------------------------------------------------- stages


async def enqueue_stage(
    label: str, database: Database, shop_id: int, channel_id: int, now: dt.datetime, profile: bool
) -> tuple[int, float]:
    async with database.sessionmaker() as session:
        broadcast = await service.create_broadcast(
            session=session, shop_id=shop_id, data=broadcast_in(channel_id, "bench")
        )
        await session.commit()
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        await service.start_broadcast(
            session=session, shop_id=shop_id, broadcast_id=broadcast.id, now=now
        )
        await session.commit()
        seconds = time.perf_counter() - started
        if profiler:
            profiler.disable()
        counts = await service.status_counts(session=session, broadcast_id=broadcast.id)
        rows = sum(counts.values())
    print(f"[{label}] enqueue (start_broadcast + commit): {rows:,} recipient rows in "
          f"{seconds:.2f} s = {rows / seconds:,.0f} recipients/s  {dict(sorted(counts.items()))}"
          f"  (goal ≥ 20,000/s: {rows / seconds / 20_000:.2f}×)")  # fmt: skip
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(f"[{label}] profile of start_broadcast, by own time:")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
    return broadcast.id, seconds


async def enqueue_breakdown(
    label: str, database: Database, shop_id: int, channel_id: int, now: dt.datetime, total: float
) -> None:
    """The steps of start_broadcast one by one, on a second broadcast that is rolled back."""
    async with database.sessionmaker() as session:
        broadcast = await service.create_broadcast(
            session=session, shop_id=shop_id, data=broadcast_in(channel_id, "breakdown")
        )
        kind, steps = ChannelKind.WEBHOOK, []

        async def timed(name: str, work: Any) -> Any:
            started = time.perf_counter()
            result = await work
            steps.append((name, time.perf_counter() - started))
            return result

        ids = await timed("audience query", service.audience_customer_ids(
            session=session, shop_id=shop_id, audience=broadcast.audience, now=now))  # fmt: skip
        await timed("resolve_addresses", partners.resolve_addresses(
            session=session, shop_id=shop_id, kind=kind, customer_ids=ids))  # fmt: skip
        await timed("screen_recipients", partners.screen_recipients(
            session=session, shop_id=shop_id, kind=kind, customer_ids=ids, now=now,
            marketing=True))  # fmt: skip
        split = [("A", 50), ("B", 50)]
        started = time.perf_counter()
        for customer_id in ids:
            partners.assign_variant(
                broadcast_id=broadcast.id, customer_id=customer_id, variants=split,
                holdout_percent=10,
            )  # fmt: skip
        steps.append(("assign_variant × n", time.perf_counter() - started))
        plan = await timed("plan_broadcast (all of the above)", service.plan_broadcast(
            session=session, broadcast=broadcast, now=now))  # fmt: skip
        await session.execute(
            update(Broadcast).where(Broadcast.id == broadcast.id).values(status="sending")
        )
        await timed("enqueue_recipients (INSERTs)", service.enqueue_recipients(
            session=session, broadcast=broadcast, plan=plan, now=now))  # fmt: skip
        await session.rollback()
    n = len(ids)
    print(f"[{label}] enqueue breakdown ({n:,} customers; the timed start_broadcast took "
          f"{total:.2f} s):")  # fmt: skip
    for name, seconds in steps:
        print(f"[{label}]   {name:<36} {seconds * 1000:8.0f} ms  {n / seconds:>10,.0f}/s")


async def set_rate(database: Database, channel_id: int, rate: float) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            update(ShopChannel).where(ShopChannel.id == channel_id).values(rate_per_second=rate)
        )


async def rated_stage(
    label: str, database: Database, settings: Settings, ids: tuple[int, int, int], sample: int,
    rate: float, receiver: Receiver,
) -> None:  # fmt: skip
    shop_id, broadcast_id, channel_id = ids
    await set_rate(database, channel_id, rate)
    async with database.sessionmaker() as session:
        channel = await channel_service.get_channel(
            session=session, shop_id=shop_id, channel_id=channel_id
        )
        sender = channel_service.open_sender(channel, settings=settings)
        before = receiver.posts.value
        started = time.perf_counter()
        try:
            sent = await delivery.deliver_broadcast(
                session=session, shop_id=shop_id, broadcast_id=broadcast_id, sender=sender,
                settings=settings, max_batches=max(1, sample // delivery.BATCH),
            )  # fmt: skip
        finally:
            await sender.aclose()
        seconds = time.perf_counter() - started
    got = receiver.posts.value - before
    print(f"[{label}] delivery at the channel's rate limit ({rate:,.0f}/s, burst {rate:,.0f}): "
          f"{sent:,} sent in {seconds:.2f} s = {sent / seconds:,.0f} recipients/s "
          f"({sent / seconds / rate:.2f}× the limit); receiver: {got:,} signed POSTs")  # fmt: skip


async def set_aside(database: Database, broadcast_id: int, keep: int) -> int:
    """Skip every queued recipient after the first `keep`: the job then sends `keep`."""
    async with database.engine.begin() as connection:
        cutoff = await connection.scalar(
            select(BroadcastRecipient.id)
            .where(BroadcastRecipient.broadcast_id == broadcast_id,
                   BroadcastRecipient.status == "queued")
            .order_by(BroadcastRecipient.id).offset(keep).limit(1)
        )  # fmt: skip
        if cutoff is None:
            return 0
        result = await connection.execute(
            update(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == broadcast_id,
                   BroadcastRecipient.status == "queued", BroadcastRecipient.id >= cutoff)
            .values(status="skipped", reason="bench_set_aside")
        )  # fmt: skip
        return result.rowcount


def unlimited_stage(
    label: str, database_url: str, settings: Settings, ids: tuple[int, int, int],
    receiver: Receiver, rate: float, limit: int,
) -> None:  # fmt: skip
    """Enqueue the delivery job on Huey, then dequeue and execute it like a worker thread."""
    shop_id, broadcast_id, channel_id = ids

    async def lift_and_set_aside() -> int:
        # One event loop for the pool: asyncpg connections cannot move between loops.
        database = Database(database_url)
        try:
            await set_rate(database, channel_id, 0)
            return await set_aside(database, broadcast_id, limit) if limit else 0
        finally:
            await database.dispose()

    aside = asyncio.run(lift_and_set_aside())
    if limit:
        print(f"[{label}] {aside:,} queued recipients set aside (skipped) so the job sends "
              f"{limit:,}")  # fmt: skip
    huey = queue.configure(settings)
    huey.flush()
    before, bad_before = receiver.posts.value, receiver.bad.value
    started = time.perf_counter()
    tasks.deliver_broadcast.enqueue(shop_id=shop_id, broadcast_id=broadcast_id)
    task = huey.dequeue()
    huey.execute(task)
    seconds = time.perf_counter() - started
    got, bad = receiver.posts.value - before, receiver.bad.value - bad_before

    async def statuses() -> dict[str, int]:
        db = Database(database_url)
        try:
            async with db.sessionmaker() as session:
                rows = await session.execute(
                    select(BroadcastRecipient.status, func.count())
                    .where(BroadcastRecipient.broadcast_id == broadcast_id)
                    .group_by(BroadcastRecipient.status)
                )
                state = await session.scalar(
                    select(Broadcast.status).where(Broadcast.id == broadcast_id)
                )
                return {"broadcast": state, **dict(rows.all())}
        finally:
            await db.dispose()

    final = asyncio.run(statuses())
    print(f"[{label}] delivery job (tasks.deliver_broadcast via {settings.queue_backend} Huey), "
          f"rate limit lifted: {got:,} in {seconds:.2f} s = {got / seconds:,.0f} recipients/s "
          f"= {got / seconds / rate:.1f}× the {rate:,.0f}/s limit of the rated run; "
          f"badly signed: {bad}; final {final}")  # fmt: skip


# --------------------------------------------------------------------------- run


def bench(label: str, url: str, redis_url: str, args: argparse.Namespace, var_dir: Path) -> None:
    backend = "redis" if redis_url else "sqlite"
    settings = Settings(
        secret_key="bench-secret", var_dir=var_dir, database_url=url, redis_url=redis_url,
        queue_backend=backend, base_url="https://shop.example.com", log_level="warning",
    )  # fmt: skip
    now = noon_utc()
    receiver = Receiver()
    database = Database(url)
    shop_id = 0
    try:

        async def prepare() -> tuple[int, int, int, float]:
            async with database.engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            started = time.perf_counter()
            shop, channel = await load(database, args.recipients, receiver.url, settings)
            print(f"[{label}] {args.recipients:,} customers loaded in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            broadcast_id, seconds = await enqueue_stage(
                label, database, shop, channel, now, args.profile
            )
            await database.dispose()  # each stage runs in its own event loop
            return shop, channel, broadcast_id, seconds

        shop_id, channel_id, broadcast_id, seconds = asyncio.run(prepare())
        ids = (shop_id, broadcast_id, channel_id)

        async def middle() -> None:
            if not args.skip_breakdown:
                await enqueue_breakdown(label, database, shop_id, channel_id, now, seconds)
            await rated_stage(
                label, database, settings, ids, args.rated_sample, args.rate, receiver
            )
            await database.dispose()

        asyncio.run(middle())
        unlimited_stage(label, url, settings, ids, receiver, args.rate, args.deliver)
    finally:
        receiver.stop()

        async def finish() -> None:  # one loop: the pool must be closed where it was used
            try:
                if shop_id and not url.startswith("sqlite"):  # the SQLite file is thrown away
                    await cleanup(database, shop_id)
            finally:
                await database.dispose()

        asyncio.run(finish())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--redis-url", default="", help="Huey on Redis (default: SQLite file)")
    parser.add_argument("--rate", type=float, default=100.0, help="channel rate limit, per second")
    parser.add_argument("--rated-sample", type=int, default=1_000)
    parser.add_argument(
        "--deliver", type=int, default=10_000,
        help="recipients the delivery job sends (the rest are set aside first; 0: all)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile the enqueue")
    parser.add_argument("--skip-breakdown", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")
    print(f"{os.cpu_count()} CPUs; receiver in its own process; {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        if args.redis_url:
            label += "+Redis"
        bench(label, url, args.redis_url, args, Path(folder))


if __name__ == "__main__":
    main()
