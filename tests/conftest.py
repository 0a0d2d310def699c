"""Test harness: SQLite by default; PostgreSQL and Redis when LIVELOOP_TEST_* are set.

Each test runs inside a transaction that is rolled back. API tests go through the real ASGI
app with the request's unit of work bound to that transaction.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import Database
from liveloop.core.deps import get_session, get_session_opener
from liveloop.core.settings import Settings
from liveloop.models import Base
from tests import factories

TEST_DATABASE_URL = os.environ.get("LIVELOOP_TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("LIVELOOP_TEST_REDIS_URL", "")


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def database_url(var_dir: Path) -> str:
    return TEST_DATABASE_URL or f"sqlite+aiosqlite:///{var_dir / 'test.db'}"


@pytest.fixture(scope="session")
def settings(var_dir: Path, database_url: str) -> Settings:
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        bus_backend="redis" if TEST_REDIS_URL else "memory",
        queue_backend="immediate",
        secret_key="test-secret-key-not-for-production",
        log_level="warning",
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.resolved_database_url)
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        else:
            await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
def app(settings: Settings, database: Database, session: AsyncSession):  # type: ignore[no-untyped-def]
    from liveloop.app import create_app

    application = create_app(settings, database=database)

    async def request_session() -> AsyncIterator[AsyncSession]:
        # A savepoint per request: a failed request undoes its own writes, not the test's data.
        nested = await session.begin_nested()
        try:
            yield session
            await nested.commit()
        except BaseException:
            await nested.rollback()
            raise

    @asynccontextmanager
    async def streamed_session() -> AsyncIterator[AsyncSession]:
        # What a streamed response reads runs in the test's transaction too.
        nested = await session.begin_nested()
        try:
            yield session
            await nested.commit()
        except BaseException:
            await nested.rollback()
            raise

    application.dependency_overrides[get_session] = request_session
    application.dependency_overrides[get_session_opener] = lambda: streamed_session
    return application


@pytest.fixture
async def shop(session: AsyncSession):  # type: ignore[no-untyped-def]
    return await factories.make_shop(session)


@pytest.fixture
async def other_shop(session: AsyncSession):  # type: ignore[no-untyped-def]
    return await factories.make_shop(session, name="隔壁小店")


@pytest.fixture
async def owner(session: AsyncSession, shop):  # type: ignore[no-untyped-def]
    return await factories.make_staff(session, shop_id=shop.id, role="owner")


@pytest.fixture
def actor(owner):  # type: ignore[no-untyped-def]
    from liveloop.shops.service import actor_for_staff

    return actor_for_staff(owner)


@pytest.fixture
async def anon_client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def client(app, session, actor) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """An API client authenticated with an owner's API key holding every permission."""
    key = await factories.make_api_key(session, actor=actor)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    ) as http:
        yield http


@pytest.fixture
def redis_url() -> str:
    if not TEST_REDIS_URL:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    return TEST_REDIS_URL
