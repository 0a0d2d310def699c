"""Benchmark: import 100,000 customers from CSV on SQLite and PostgreSQL; prints rows/s.

    .venv/bin/python bench/import_customers.py [--rows 100000] [--skip-sqlite] [--skip-postgres]

PostgreSQL URL from LIVELOOP_BENCH_DATABASE_URL (default
postgresql+asyncpg://postgres@127.0.0.1:5432/ll_bench); the database is created if missing.
The import runs through the same function as `liveloop import customers`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

from liveloop.core.database import Database
from liveloop.core.settings import Settings
from liveloop.customers.cli import run_import
from liveloop.customers.crypto import configure_cipher
from liveloop.customers.imports import ImportReport
from liveloop.models import Base
from liveloop.shops import service as shops_service

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/ll_bench"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬鹏辉"
PLACES = [
    ("浙江", "杭州"), ("浙江", "宁波"), ("广东", "广州"), ("广东", "深圳"), ("江苏", "南京"),
    ("上海", "上海"), ("北京", "北京"), ("四川", "成都"), ("湖北", "武汉"), ("福建", "厦门"),
]  # fmt: skip
TAGS = ["VIP", "老客", "茶友", "直播常客", "高客单", "新客", "复购", "沉睡", "团长", "宝妈"]
SOURCES = ["抖音", "企微", "小程序", "线下", "公众号"]


def make_csv(rows: int, seed: int = 7) -> bytes:
    """A realistic file: Chinese headers, ~half with a WeCom id, a third with e-mail, tags."""
    rng = random.Random(seed)
    phones = rng.sample(range(13_000_000_000, 19_999_999_999), rows)
    lines = ["姓名,手机号,邮箱,性别,生日,省份,城市,来源,标签,企微ID"]
    for index, phone in enumerate(phones):
        province, city = rng.choice(PLACES)
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
        email = f"user{index}@example.com" if rng.random() < 0.33 else ""
        wecom = f"wm{index:08d}" if rng.random() < 0.5 else ""
        tags = ";".join(rng.sample(TAGS, rng.randint(0, 2)))
        birthday = f"{rng.randint(1960, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lines.append(
            f"{name},{phone},{email},{rng.choice('男女')},{birthday},{province},{city},"
            f"{rng.choice(SOURCES)},{tags},{wecom}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


async def prepare(url: str, *, reset: bool) -> int:
    """Create the schema (and the PostgreSQL database if missing) and a fresh shop."""
    if url.startswith("postgresql"):
        await _create_pg_database(url)
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            if reset:
                await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
        shop_id = 0
        async with database.unit_of_work() as session:
            shop_id = (await shops_service.create_shop(session=session, name="bench")).id
        return shop_id
    finally:
        await database.dispose()


async def _create_pg_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database="postgres",
    )  # fmt: skip
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await connection.close()


async def bench(label: str, url: str, data: bytes, rows: int, *, reset: bool) -> None:
    shop_id = await prepare(url, reset=reset)
    started = time.perf_counter()
    report = await run_import(
        database_url=url,
        shop_id=shop_id,
        data=data,
        mapping={},
        encoding="auto",
        source_name="bench.csv",
    )
    elapsed = time.perf_counter() - started
    assert isinstance(report, ImportReport)
    assert report.created == rows and report.failed == 0, report.counts()
    print(f"{label:<11} {rows:>8,} rows in {elapsed:6.2f} s = {rows / elapsed:>9,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL tables first")
    args = parser.parse_args()

    configure_cipher(Settings(secret_key="bench-secret", var_dir=Path(tempfile.gettempdir())))
    started = time.perf_counter()
    data = make_csv(args.rows)
    print(f"generated {args.rows:,} rows ({len(data) / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            asyncio.run(bench("SQLite", url, data, args.rows, reset=False))
    if not args.skip_postgres:
        url = os.environ.get("LIVELOOP_BENCH_DATABASE_URL", DEFAULT_PG)
        asyncio.run(bench("PostgreSQL", url, data, args.rows, reset=args.reset))


if __name__ == "__main__":
    main()
