"""A unit of work commits when its block ends and never reports success for lost work."""

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import select

from liveloop.core.database import Database
from liveloop.core.deps import DbSession
from liveloop.core.jobs import JobQueue, job
from liveloop.core.settings import Settings
from liveloop.shops.models import Shop
from tests.factories.shops import drop_shop


@job(retries=0)
async def name_a_shop(*, session, name: str) -> int:  # type: ignore[no-untyped-def]
    shop = Shop(name=name)
    session.add(shop)
    await session.flush()
    return shop.id  # returning from inside the unit of work must still commit


async def test_returning_inside_a_unit_of_work_commits(database: Database) -> None:
    async def create() -> int:
        async with database.unit_of_work() as session:
            shop = Shop(name="returned early")
            session.add(shop)
            await session.flush()
            return shop.id

    shop_id = await create()
    async with database.unit_of_work() as session:
        assert (
            await session.execute(select(Shop.name).where(Shop.id == shop_id))
        ).scalar_one() == "returned early"
        await drop_shop(session, shop_id)


async def test_a_raising_block_rolls_back(database: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with database.unit_of_work() as session:
            session.add(Shop(name="never stored"))
            await session.flush()
            raise RuntimeError("boom")
    async with database.unit_of_work() as session:
        assert (
            await session.execute(select(Shop).where(Shop.name == "never stored"))
        ).first() is None


async def test_a_job_commits_what_it_writes(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    queue = JobQueue()
    queue.configure(
        Settings(
            var_dir=tmp_path,
            database_url=database_url,
            queue_backend="immediate",
            secret_key="k" * 40,
        )
    )
    result = await asyncio.to_thread(
        queue.enqueue, name_a_shop.name, {"name": "made by a job"}, delay=None, eta=None
    )
    shop_id = result()
    async with database.unit_of_work() as session:
        assert (
            await session.execute(select(Shop.name).where(Shop.id == shop_id))
        ).scalar_one() == "made by a job"
        await drop_shop(session, shop_id)


async def test_a_failed_commit_is_an_error_response_not_a_200(app) -> None:
    router = APIRouter()

    @router.post("/api/v1/test-broken-write")
    async def broken_write(session: DbSession) -> dict[str, str]:
        session.add(Shop(name=None))  # NOT NULL: fails only when the request commits
        return {"status": "stored"}

    app.include_router(router)
    # The app re-raises unexpected errors after answering 500; this client only reads the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/api/v1/test-broken-write")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


async def test_a_failing_after_commit_callback_does_not_fail_the_committed_work(
    database: Database,
) -> None:
    from liveloop.core.database import after_commit

    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise RuntimeError("the bus is down")

    async with database.unit_of_work() as session:
        shop = Shop(name="committed despite a broken side effect")
        session.add(shop)
        await session.flush()
        after_commit(session, broken)
        after_commit(session, lambda: ran.append("next"))
    assert ran == ["broken", "next"]
    async with database.unit_of_work() as session:
        assert (await session.execute(select(Shop.id).where(Shop.id == shop.id))).scalar_one()
        await drop_shop(session, shop.id)
