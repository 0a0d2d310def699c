"""Numbers no column can hold are refused as bad input, never a 500 from the driver."""

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from liveloop.core.database import Database
from liveloop.models import Base
from liveloop.shops.models import Shop

HUGE = "310480084969473198522368"


async def test_huge_id_in_the_path_is_a_422_naming_it(client) -> None:
    response = await client.get(f"/api/v1/customers/{HUGE}")
    assert response.status_code == 422
    assert response.json()["field"] == "customer_id"
    assert response.json()["code"] == "number_out_of_range"


async def test_huge_number_in_the_query_is_a_422_naming_it(client) -> None:
    response = await client.get("/api/v1/events", params={"customer_id": ["-" + HUGE]})
    assert response.status_code == 422
    assert response.json()["field"] == "customer_id"


async def test_huge_number_in_a_body_is_a_422_with_its_path(client) -> None:
    response = await client.post("/api/v1/tags", json={"name": "x", "group_id": int(HUGE)})
    assert response.status_code == 422
    assert response.json()["field"] == "group_id"


async def test_a_page_far_past_the_end_is_empty_not_an_error(client) -> None:
    response = await client.get("/api/v1/customers", params={"page": 10**15})
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_sqlite_writers_that_read_first_wait_instead_of_failing(tmp_path: Path) -> None:
    # Deferred transactions fail at once with "database is locked" when two of them read and
    # then write; immediate ones queue on the write lock.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)

    async def read_then_write(n: int) -> None:
        async with database.unit_of_work() as session:
            count = (await session.execute(select(func.count()).select_from(Shop))).scalar_one()
            await asyncio.sleep(0.01)
            session.add(Shop(name=f"店{n}-{count}"))

    await asyncio.gather(*(read_then_write(n) for n in range(8)))
    async with database.unit_of_work() as session:
        assert (await session.execute(select(func.count()).select_from(Shop))).scalar_one() == 8
    await database.dispose()


async def test_unicode_digits_are_not_numbers(client) -> None:
    response = await client.get("/api/v1/customers/²")
    assert response.status_code == 422
    assert response.json()["field"] == "customer_id"


async def test_nul_character_in_a_body_is_a_422_naming_it(client) -> None:
    """PostgreSQL stores U+0000 in neither text nor JSONB: refused as bad input, top level or
    nested, before it can fail in the driver."""
    response = await client.post("/api/v1/tags", json={"name": "新\x00客"})
    assert response.status_code == 422
    assert response.json()["field"] == "name"
    assert "NUL" in response.json()["message"]
    nested = await client.post(
        "/api/v1/outreach/channels",
        json={"kind": "webhook", "name": "hook", "config": {"url": "https://x.example/\x00"}},
    )
    assert nested.status_code == 422
    assert nested.json()["field"] == "config"
