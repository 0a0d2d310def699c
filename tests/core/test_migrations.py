"""Alembic migrations build the same schema as the models, on SQLite and on PostgreSQL."""

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from liveloop.core import migrate
from liveloop.core.database import make_engine
from liveloop.models import Base


async def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _check_upgrade_and_downgrade(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _diff(url) == []
    assert set(Base.metadata.tables) <= await _tables(url)
    await asyncio.to_thread(migrate.downgrade, url, "base")
    assert not (set(Base.metadata.tables) & await _tables(url))
    await asyncio.to_thread(migrate.upgrade, url)


async def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    await _check_upgrade_and_downgrade(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")


async def test_postgresql_migrations_match_models() -> None:
    base = os.environ.get("LIVELOOP_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("LIVELOOP_TEST_DATABASE_URL is not a PostgreSQL URL")
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/')}_migrations"
    admin = make_engine(base)
    async with admin.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    await _check_upgrade_and_downgrade(urlunsplit(parts._replace(path=f"/{name}")))
