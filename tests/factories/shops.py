"""Factories of shops, staff and API keys."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.shops import service as shops_service
from liveloop.shops.permissions import Permission

_counter = itertools.count(1)
PASSWORD = "correct-horse-42"


async def make_shop(session: AsyncSession, *, name: str = "茶语小铺") -> Any:
    return await shops_service.create_shop(session=session, name=name)


async def make_staff(
    session: AsyncSession,
    *,
    shop_id: int,
    role: str = "owner",
    email: str | None = None,
    password: str = PASSWORD,
) -> Any:
    number = next(_counter)
    return await shops_service.create_staff(
        session=session,
        shop_id=shop_id,
        role=role,
        password=password,
        email=email or f"staff{number}@example.com",
        name=f"员工{number}",
    )


async def make_api_key(
    session: AsyncSession, *, actor: Any, permissions: list[str] | None = None
) -> str:
    wanted = permissions or sorted(p for p in (str(x) for x in Permission) if actor.can(p))
    _, key = await shops_service.create_api_key(
        session=session, actor=actor, name="test key", permissions=wanted
    )
    return key


async def drop_shop(session: AsyncSession, shop_id: int) -> None:
    """Delete a shop that a test committed, with its events: the events table has no foreign
    keys (see events.models), so the shop's cascade leaves them, and SQLite gives a deleted
    shop's id to the next shop made, which would find them in its timeline."""
    from sqlalchemy import delete

    from liveloop.events.models import Event
    from liveloop.shops.models import Shop

    await session.execute(delete(Event).where(Event.shop_id == shop_id))
    await session.execute(delete(Shop).where(Shop.id == shop_id))
