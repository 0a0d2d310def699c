"""Helpers of the script-library tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.scripts import service
from liveloop.outreach.scripts.schemas import CategoryIn, EntryIn
from liveloop.shops.service import actor_for_staff, system_actor
from tests import factories


async def make_scripts_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """A category with one shop-wide entry in this shop (for the shop isolation test)."""
    actor = system_actor(shop_id)
    category = await service.create_category(
        session=session, actor=actor, data=CategoryIn(name="隔壁发货")
    )
    entry = await service.create_entry(
        session=session,
        actor=actor,
        data=EntryIn(title="发货时间", text="48小时内发货", category_id=category.id),
    )
    return {"script_id": entry.id, "script_category_id": category.id}


async def staff_client(app: Any, session: AsyncSession, shop_id: int, role: str) -> Any:
    """(client with the staff member's own API key, staff). Keys have no person, so for
    personal entries the tests use `personal_client` (a logged-in console session)."""
    staff = await factories.make_staff(session, shop_id=shop_id, role=role)
    key = await factories.make_api_key(session, actor=actor_for_staff(staff))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    return client, staff


@asynccontextmanager
async def console_client(
    app: Any, session: AsyncSession, shop_id: int, role: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client logged in as a new staff member; JSON writes carry the CSRF."""
    from tests.web.conftest import log_in

    staff = await factories.make_staff(session, shop_id=shop_id, role=role)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.headers["X-CSRF-Token"] = await log_in(client, staff.email)
        yield client
